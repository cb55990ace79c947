"""`pyml eval`: mAP, AP per class, and per-class threshold calibration."""

from __future__ import annotations

import argparse
import sys

from ..errors import ConfigError, require_extra

DESCRIPTION = (
    "mAP and per-class AP of a model directory on a dataset's val split; --report writes a page to judge it "
    "by (or two models side by side: MODEL_A MODEL_B DATASET)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..train.calibrate import CALIBRATIONS
    from .common import add_pipeline_options

    p.add_argument(
        "paths",
        nargs="+",
        metavar="MODEL_DIR [MODEL_B] DATASET",
        help="one model directory (or two, to compare), then the dataset",
    )
    p.add_argument("--split", choices=("val", "train"), default="val")
    p.add_argument("--batch_size", type=int, default=16)
    add_pipeline_options(p, "device")
    p.add_argument(
        "--calibrate",
        choices=CALIBRATIONS,
        help="f1: choose per-class thresholds that maximise each "
        "class's F1 on the split, and report F1 before and after",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="with --calibrate: write the thresholds into the model's inference.yml (PaddleX's per-class list)",
    )
    p.add_argument(
        "--report",
        metavar="HTML",
        help="write one self-contained page: per-class AP, precision, recall, F1 at the model's thresholds, "
        "precision-recall curves, the worst pictures, confusions, the label-frequency baseline; with two models, "
        "per-class changes",
    )


def _read(root: str, split: str):
    """The split to evaluate (pictures checked), and the train split's targets for the
    baseline when the dataset has one (labels only: its pictures are not opened)."""
    from pathlib import Path

    from ..train import read_dataset

    dataset = read_dataset(root, splits=(split,))
    train = None
    if split != "train" and (Path(root).expanduser() / "train.txt").is_file():
        train = read_dataset(root, check_images=False, splits=("train",)).targets("train")
    return dataset, train


def run(args) -> int:
    require_extra("pyml eval", "train", "sklearn", "matplotlib")
    from ..model_dir import load_model_dir
    from ..train.evaluate import evaluate_scores, model_dir_scores

    if len(args.paths) not in (2, 3):
        raise ConfigError("give MODEL_DIR DATASET, or MODEL_A MODEL_B DATASET to compare two models")
    *model_dirs, root = args.paths
    if args.write and not args.calibrate:
        raise ConfigError("--write writes calibrated thresholds: pass --calibrate f1 with it")
    if args.calibrate and len(model_dirs) > 1:
        raise ConfigError("--calibrate works on one model at a time")
    models = [load_model_dir(d) for d in model_dirs]  # the models' problems first: cheaper than reading a dataset
    dataset, train_targets = _read(root, args.split)
    for model_dir in model_dirs:
        targets, scores = model_dir_scores(model_dir, dataset, args.split, args.batch_size, args.device)
        if len(model_dirs) > 1:
            print(f"== {model_dir}")
        print(evaluate_scores(targets, scores).table(dataset.labels))
    if args.report:
        from ..reporting.evaluation import report_models

        written = report_models(
            model_dirs, dataset, args.report, args.split, train_targets, args.batch_size, args.device
        )
        print(f"report: {written}", file=sys.stderr)
    if args.calibrate:
        _calibrate(args, models[0], targets, scores, dataset.labels)
    return 0


def _calibrate(args, model, targets, scores, labels) -> None:
    from ..train.calibrate import calibrate, write_thresholds

    default = model.threshold if isinstance(model.threshold, (int, float)) else 0.5
    calibration = calibrate(targets, scores, float(default))
    print("\n".join(calibration.lines(default)))
    width = max(8, *(len(n) for n in labels))
    for name, t in zip(labels, calibration.thresholds):
        print(f"  {name:<{width}}  {t:.4f}")
    model_dir = args.paths[0]
    if args.write:
        print(f"thresholds written into {write_thresholds(model_dir, calibration.thresholds)}")
    else:
        print("(not written: add --write to put them into the model's inference.yml)")
