"""Writing a trained network as a model directory, the way PaddleX exports one.

`inference.json` + `inference.pdiparams` come from `paddle.jit.save` of the
network with a final sigmoid and one float32 input named `x` of shape
[N, 3, H, W]. `inference.yml` is written with the keys, order and block style
that PaddleClas' export (`dump_infer_config`) gives: `Global.model_name`, then
`PreProcess.transform_ops` (ResizeImage, NormalizeImage, ToCHWImage), then
`PostProcess.MultiLabelThreshOutput` with `threshold` and `label_list`.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import yaml

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class _InferenceYamlDumper(yaml.Dumper):
    """yaml.Dumper that writes OrderedDicts as plain mappings in their own order."""


_InferenceYamlDumper.add_representer(
    OrderedDict, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data.items())
)


ARCHITECTURE_KEY = "pyml_architecture"  # in Global, when model_name does not name the architecture


def inference_yml_text(
    model_name: str, labels: list[str], size: int, threshold: float = 0.5, architecture: str | None = None
) -> str:
    config = OrderedDict()
    config["Global"] = {"model_name": model_name}
    if architecture and architecture != model_name:  # so `pyml train --from` needs no --model
        config["Global"][ARCHITECTURE_KEY] = architecture
    config["PreProcess"] = {
        "transform_ops": [
            {"ResizeImage": {"size": size, "interpolation": "bilinear", "backend": "pil"}},
            {
                "NormalizeImage": {
                    "scale": 1.0 / 255.0,
                    "mean": list(IMAGENET_MEAN),
                    "std": list(IMAGENET_STD),
                    "order": "",
                    "channel_num": 3,
                }
            },
            {"ToCHWImage": None},
        ]
    }
    post = OrderedDict()
    post["threshold"] = threshold
    post["label_list"] = list(labels)
    config["PostProcess"] = {"MultiLabelThreshOutput": post}
    return yaml.dump(config, Dumper=_InferenceYamlDumper, allow_unicode=True)


def save_model_dir(
    network,
    out_dir: Path,
    model_name: str,
    labels: list[str],
    size: int,
    threshold: float = 0.5,
    architecture: str | None = None,
) -> Path:
    """Exports `network` (logits out) with a final sigmoid into a PaddleX model directory.
    The network is left in eval mode."""
    from ..backends.paddle import import_paddle

    paddle = import_paddle()

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with_sigmoid = paddle.nn.Sequential(network, paddle.nn.Sigmoid())
    with_sigmoid.eval()
    spec = [paddle.static.InputSpec([None, 3, size, size], "float32", name="x")]
    static = paddle.jit.to_static(with_sigmoid, input_spec=spec, full_graph=True)
    paddle.jit.save(static, str(out_dir / "inference"))
    (out_dir / "inference.yml").write_text(
        inference_yml_text(model_name, labels, size, threshold, architecture), encoding="utf-8"
    )
    return out_dir
