"""`pyml eval`: mAP, AP per class, and per-class threshold calibration."""

from __future__ import annotations

import argparse

from ..errors import ConfigError

DESCRIPTION = "mAP and per-class AP of a model directory on a dataset's val split."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir")
    p.add_argument("dataset")
    p.add_argument("--split", choices=("val", "train"), default="val")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--device")
    p.add_argument(
        "--calibrate",
        choices=("f1",),
        help="f1: choose per-class thresholds that maximise each "
        "class's F1 on the split, and report F1 before and after",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="with --calibrate: write the thresholds into the model's inference.yml (PaddleX's per-class list)",
    )
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")


def run(args) -> int:
    from ..model_dir import load_model_dir
    from ..train import read_dataset
    from ..train.evaluate import evaluate_scores, model_dir_scores

    if args.write and not args.calibrate:
        raise ConfigError("--write writes calibrated thresholds: pass --calibrate f1 with it")
    model = load_model_dir(args.model_dir)  # the model's problems first: cheaper than reading a dataset
    dataset = read_dataset(args.dataset, splits=(args.split,))
    targets, scores = model_dir_scores(args.model_dir, dataset, args.split, args.batch_size, args.device)
    print(evaluate_scores(targets, scores).table(dataset.labels))
    if args.calibrate:
        from ..train.calibrate import calibrate, write_thresholds

        default = model.threshold if isinstance(model.threshold, (int, float)) else 0.5
        calibration = calibrate(targets, scores, float(default))
        print("\n".join(calibration.lines(default)))
        width = max(8, *(len(n) for n in dataset.labels))
        for name, t in zip(dataset.labels, calibration.thresholds):
            print(f"  {name:<{width}}  {t:.4f}")
        if args.write:
            print(f"thresholds written into {write_thresholds(args.model_dir, calibration.thresholds)}")
        else:
            print("(not written: add --write to put them into the model's inference.yml)")
    return 0
