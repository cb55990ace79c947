"""`pyml train`: fine-tuning; the summary says where the model is and how to use it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, require_extra

DESCRIPTION = (
    "Fine-tune a multi-label model on a PaddleX multi-label dataset; the best epoch is exported as a model directory."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..flags import add_flags
    from ..train.options import TrainOptions

    p.add_argument("dataset")
    add_flags(p, TrainOptions)  # every recipe option, from its field (pyml/train/options.py)
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def training_summary(out: Path, history) -> str:
    """Where the model is, how good it is, and the line that uses it."""
    model_dir = out / "best_model" / "inference"
    lines = [
        f"best val mAP {history.best_map:.4f} at epoch {history.best_epoch}"
        + (" (stopped early)" if history.stopped_early else "")
        + f"; model: {model_dir}"
    ]
    if history.calibration:
        at, cal = history.calibration["at_global"], history.calibration["calibrated"]
        lines.append(
            f"per-class thresholds written: macro F1 {at['macro_f1']:.4f} at "
            f"{history.calibration['global_threshold']:g} -> {cal['macro_f1']:.4f} calibrated"
        )
    from ..train.trainer import REPORT_NAME

    if (out / REPORT_NAME).is_file():
        lines.append(f"report: {out / REPORT_NAME} (per-class figures, curves, worst pictures; open it in a browser)")
    lines.append(f"use it: pyml --pipeline image_multilabel_classification --model_dir {model_dir} --input IMAGE")
    return "\n".join(lines)


def run(args) -> int:
    require_extra("pyml train", "train", "sklearn", "matplotlib")
    from ..flags import flag_fields, flag_name
    from ..train import read_dataset
    from ..train.networks import architecture_of
    from ..train.options import DEFAULT_EPOCHS, TrainOptions
    from ..train.trainer import Trainer, TrainingInterrupted

    if not args.arch and not args.resume:
        if not args.from_dir:
            raise ConfigError("--model is required (with --from or --resume it is read from the model or the run)")
        args.arch = architecture_of(args.from_dir)
    dataset = read_dataset(args.dataset)  # fails before anything is written to --output
    print(dataset.summary(), file=sys.stderr)
    flags = {flag_name(f): f.name for f in flag_fields(TrainOptions)}
    values = {name: getattr(args, name) for name in flags.values() if getattr(args, name) is not None}
    values["epochs"] = args.epochs or (0 if args.resume else DEFAULT_EPOCHS)
    options = TrainOptions(**{**values, "arch": args.arch or "", "dataset": str(dataset.root)})
    given = {flags.get(flag, flag) for flag in args.given}
    trainer = Trainer(dataset, options, resume=args.resume, given=given)
    try:
        history = trainer.run(progress=not args.quiet)
    except TrainingInterrupted as exc:
        print(f"pyml: {exc}", file=sys.stderr)
        return 130
    print(training_summary(trainer.out, history))
    return 0
