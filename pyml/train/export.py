"""Writing a trained network as a model directory, the way PaddleX exports one.

`inference.json` + `inference.pdiparams` come from `paddle.jit.save` of the
network with a final sigmoid and one float32 input named `x` of shape
[N, 3, H, W]. `inference.yml` is written with the keys, order and block style
that PaddleClas' export (`dump_infer_config`) gives: `Global.model_name`, then
`PreProcess.transform_ops` (ResizeImage, NormalizeImage, ToCHWImage), then
`PostProcess.MultiLabelThreshOutput` with `threshold` and `label_list`, through the one
writer, `model_dir.write_inference_yml`.
"""

from __future__ import annotations

from pathlib import Path

from ..model_dir import write_inference_yml

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


ARCHITECTURE_KEY = "pyml_architecture"  # in Global, when model_name does not name the architecture
CATEGORIES_KEY = "pyml_categories"  # in Global: one category per label, from label.txt's optional column


def inference_yml_config(
    model_name: str,
    labels: list[str],
    size: int,
    threshold: float = 0.5,
    architecture: str | None = None,
    categories: list[str] | None = None,
) -> dict:
    config: dict = {"Global": {"model_name": model_name}}
    if architecture and architecture != model_name:  # so `pyml train --from` needs no --model
        config["Global"][ARCHITECTURE_KEY] = architecture
    if categories:  # Global, which PaddleX reads only model_name from: its loader is not troubled
        config["Global"][CATEGORIES_KEY] = [c or None for c in categories]
    config["PreProcess"] = {
        "transform_ops": [
            # PaddleClas' dump_infer_config sorts the keys of these (yaml.dump's default)
            {"ResizeImage": {"backend": "pil", "interpolation": "bilinear", "size": size}},
            {
                "NormalizeImage": {
                    "channel_num": 3,
                    "mean": list(IMAGENET_MEAN),
                    "order": "",
                    "scale": 1.0 / 255.0,
                    "std": list(IMAGENET_STD),
                }
            },
            {"ToCHWImage": None},
        ]
    }
    config["PostProcess"] = {"MultiLabelThreshOutput": {"threshold": threshold, "label_list": list(labels)}}
    return config


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
    categories: list[str] | None = None,
) -> Path:
    """Exports `network` (logits out) with a final sigmoid into a PaddleX model directory.
    The train/eval mode of every layer is as it was."""
    from ..backends.paddle import import_paddle

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_static(out_dir / "inference", size, network, import_paddle().nn.Sigmoid())
    write_inference_yml(out_dir, inference_yml_config(model_name, labels, size, threshold, architecture, categories))
    return out_dir
