"""`pyml quantize`: an int8 model for `precision: int8`, with the report of what it costs."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ..errors import ConfigError

DESCRIPTION = (
    "Quantize MODEL_DIR to int8 with NNCF on your own pictures (post-training, no labels needed); "
    "prints how often int8 leaves the label set unchanged on pictures held out of calibration."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir")
    p.add_argument(
        "--calibration",
        required=True,
        nargs="+",
        metavar="IMAGES",
        help="folders or files of pictures like those the model will see (a few hundred)",
    )
    p.add_argument("--samples", type=int, default=300, help="pictures to calibrate on (default 300); the rest judge")
    p.add_argument("--dataset", help="a PaddleX multi-label dataset: also report val mAP before and after")
    p.add_argument(
        "--head",
        choices=("fp32", "int8"),
        default="fp32",
        help="fp32 (default): keep the matrix products (the classification head) unquantized, which "
        "keeps more label sets; int8: quantize them too (faster on ML-Decoder heads)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def _pictures(items: list[str]) -> list[Path]:
    from ..inputs import IMAGE_SUFFIXES, image_files

    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(image_files(path))
        elif path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            found.append(path)
        else:
            what = "no such file or folder" if not path.exists() else "not a picture file or a folder"
            raise ConfigError(f"--calibration {item}: {what}")
    return sorted(set(found))


def run(args) -> int:
    from ..backends.quantize import quantize
    from ..model_dir import load_model_dir

    if args.samples < 1:
        raise ConfigError(f"--samples must be at least 1, not {args.samples}")
    load_model_dir(args.model_dir)  # the model's problems before the pictures'
    dataset = None
    if args.dataset:
        from ..train import read_dataset

        dataset = read_dataset(args.dataset, splits=("val",))
    report = quantize(args.model_dir, _pictures(args.calibration), args.samples, dataset, args.head)
    if args.json:
        print(json.dumps(asdict(report) | {"judged": report.judged, "safe": report.safe}, indent=1))
    else:
        print("\n".join(report.lines()))
    return 0
