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

from pyml.train.export import save_model_dir
from pyml.train.networks import ARCHITECTURES, INPUT_SIZE
from pyml.train.networks import build_network as build_untrained

COCO80_LABELS = (Path(__file__).resolve().parent / "coco80_labels.txt")


def coco_labels() -> list[str]:
    lines = COCO80_LABELS.read_text(encoding="utf-8").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.strip()]


def build_network(model_name: str, seed: int, weights: Path | None = None):
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()

    if model_name not in ARCHITECTURES:
        raise SystemExit(f"unknown model '{model_name}'; choose one of: {', '.join(ARCHITECTURES)}")
    paddle.seed(seed)
    network = build_untrained(model_name, 80)
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
