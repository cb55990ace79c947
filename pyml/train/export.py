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


def save_static(prefix: Path, size: int, *layers) -> None:
    """`paddle.jit.save` of the layers chained, in eval mode, with one float32 input `x` of
    shape [N, 3, size, size] (PaddleX's export form). A wrapper is converted, not the layers
    (to_static replaces the forward of what it is given), and each layer's train/eval mode
    is put back afterwards, so a network in training can be exported between steps."""
    from ..backends.paddle import import_paddle

    paddle = import_paddle()
    wrapper = paddle.nn.Sequential(*layers)
    modes = [(layer, layer.training) for layer in wrapper.sublayers(include_self=True)]
    try:
        wrapper.eval()
        spec = [paddle.static.InputSpec([None, 3, size, size], "float32", name="x")]
        paddle.jit.save(paddle.jit.to_static(wrapper, input_spec=spec, full_graph=True), str(prefix))
    finally:
        for layer, training in modes:
            layer.training = training


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
    The train/eval mode of every layer is as it was."""
    from ..backends.paddle import import_paddle

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_static(out_dir / "inference", size, network, import_paddle().nn.Sigmoid())
    (out_dir / "inference.yml").write_text(
        inference_yml_text(model_name, labels, size, threshold, architecture), encoding="utf-8"
    )
    return out_dir
