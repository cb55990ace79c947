"""Export any of the six PaddleX multi-label architectures as a PaddleX model directory.

    python -m tools.export_arch PP-LCNet_x1_0_ML OUT_DIR [--weights FILE.pdparams] [--seed N]

The network is built with paddleclas exactly as PaddleX's training configs define
it (backbone + ML-Decoder head, 80 classes), with seeded random weights or a
user's trained `.pdparams`, and exported at 448x448 with a final sigmoid. With
random weights the scores are meaningless but the compute cost is the official
one, which is what speed comparisons need; with real weights it is the real model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tools.paddleclas_arch import import_ppcls_arch
from tools.paddlex_export import save_model_dir

COCO80_LABELS = (Path(__file__).resolve().parent / "coco80_labels.txt")
INPUT_SIZE = 448

# Arch and MLDecoder sections of PaddleX's training configs
# (paddlex/repo_apis/PaddleClas_api/configs/<model>.yaml).
ARCHITECTURES: dict[str, dict] = {
    "PP-LCNet_x1_0_ML": {"Arch": {"name": "PPLCNet_x1_0"},
                         "MLDecoder": {"query_num": 80, "in_channels": 1280}},
    "PP-HGNetV2-B0_ML": {"Arch": {"name": "PPHGNetV2_B0"},
                         "MLDecoder": {"query_num": 80, "in_channels": 2048}},
    "PP-HGNetV2-B4_ML": {"Arch": {"name": "PPHGNetV2_B4"},
                         "MLDecoder": {"query_num": 80, "in_channels": 2048}},
    "PP-HGNetV2-B6_ML": {"Arch": {"name": "PPHGNetV2_B6"},
                         "MLDecoder": {"query_num": 80, "in_channels": 2048}},
    "ResNet50_ML": {"Arch": {"name": "ResNet50"},
                    "MLDecoder": {"query_num": 80, "in_channels": 2048}},
    "CLIP_vit_base_patch16_448_ML": {
        "Arch": {"name": "CLIP_vit_base_patch16_224", "return_embed": False,
                 "use_fused_attn": False},
        "MLDecoder": {"query_num": 80, "in_channels": 768, "remove_layers": [],
                      "replace_layer": "head"},
    },
}


def coco_labels() -> list[str]:
    lines = COCO80_LABELS.read_text(encoding="utf-8").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.strip()]


def build_network(model_name: str, seed: int, weights: Path | None = None):
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()

    if model_name not in ARCHITECTURES:
        raise SystemExit(f"unknown model '{model_name}'; choose one of: {', '.join(ARCHITECTURES)}")
    arch = import_ppcls_arch()
    paddle.seed(seed)
    spec = ARCHITECTURES[model_name]
    config = {
        "Global": {"device": "cpu"},
        "Arch": {**spec["Arch"], "class_num": 80, "pretrained": False, "use_ml_decoder": True},
        "MLDecoder": {"class_num": 80, **spec["MLDecoder"]},
    }
    network = arch.build_model(config, mode="eval")
    if weights is not None:
        network.set_state_dict(paddle.load(str(weights)))
    network.eval()
    return network


def export(model_name: str, out_dir: Path, seed: int = 0, weights: Path | None = None,
           size: int = INPUT_SIZE) -> Path:
    network = build_network(model_name, seed, weights)
    return save_model_dir(network, out_dir, model_name, coco_labels(), size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(ARCHITECTURES))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--weights", type=Path, help="trained .pdparams to load (default: random)")
    parser.add_argument("--seed", type=int, default=0, help="seed for random weights")
    parser.add_argument("--size", type=int, default=INPUT_SIZE,
                        help="input size (448 is the official one; smaller only for quick tests)")
    args = parser.parse_args()
    start = time.perf_counter()
    out = export(args.model, args.out_dir, args.seed, args.weights, args.size)
    print(f"exported {args.model} to {out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
