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
    from ..train.calibrate import CALIBRATIONS
    from ..train.data import DEFAULT_AUGMENT
    from ..train.frozen import FREEZE_CHOICES
    from ..train.networks import architectures

    p.add_argument("dataset")
    p.add_argument(
        "--model",
        choices=architectures(),
        metavar="ARCH",
        help=f"architecture: {', '.join(architectures())} (with --from: read from the model)",
    )
    p.add_argument("--output", required=True, help="folder for checkpoints, metrics and the exported model")
    p.add_argument("--epochs", type=int, help="total epochs (default 20; with --resume: the first run's)")
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4, help="AdamW peak learning rate (PaddleClas: 1e-4)")
    p.add_argument("--weight_decay", type=float, default=1e-4)
    p.add_argument("--warmup_epochs", type=float, help="linear warm-up (default: min(5, epochs/5))")
    p.add_argument("--input_size", type=int, help="square input side (default: 448; the demo network 64)")
    p.add_argument("--device", default="cpu", help="cpu (default), gpu:N where paddle has CUDA")
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--pretrained",
        help="a .pdparams to start from, or an official model's name "
        "(e.g. PP-LCNet_x1_0_ML: PaddleX's <NAME>_pretrained.pdparams, fetched once)",
    )
    start.add_argument("--from", dest="from_dir", help="a model directory to fine-tune to this dataset's labels")
    p.add_argument(
        "--augment",
        default=DEFAULT_AUGMENT,
        help="per-batch augmentations, comma-separated (flip, color, cutout) or none",
    )
    p.add_argument(
        "--loss",
        choices=("asl", "bce"),
        default="asl",
        help="asl: PaddleClas' asymmetric loss (default); bce: plain cross-entropy, whose "
        "scores suit the 0.5 threshold better",
    )
    p.add_argument("--threshold", type=float, default=0.5, help="score threshold written into inference.yml")
    p.add_argument(
        "--calibrate",
        choices=CALIBRATIONS,
        help="f1: per-class thresholds that maximise each "
        "class's F1 on val, written into the export's inference.yml (PaddleX applies them too)",
    )
    p.add_argument(
        "--freeze",
        choices=FREEZE_CHOICES,
        default="none",
        help="backbone: train the head only, "
        "the backbone running on an inference backend (an order of magnitude faster on a CPU)",
    )
    p.add_argument(
        "--cache_features",
        action="store_true",
        help="with --freeze backbone: run the backbone "
        "once per image, without augmentation, and keep its features on disk (float16)",
    )
    p.add_argument(
        "--backbone_backend",
        default="paddle",
        help="the inference backend of a frozen backbone (default paddle: Paddle Inference with oneDNN)",
    )
    p.add_argument(
        "--patience",
        type=int,
        default=0,
        help="stop when val mAP has not improved for N epochs (the best epoch is kept); 0: never",
    )
    p.add_argument("--model_name", help="Global.model_name of the export (default: the architecture)")
    p.add_argument("--steps_per_epoch", type=int, help="cap the steps of an epoch (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue the run in --output from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="log details and show tracebacks")


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


_TRAIN_FLAG_FIELDS = {"model": "arch", "from": "from_dir"}  # flag -> TrainOptions field where they differ


def run(args) -> int:
    require_extra("pyml train", "train", "sklearn", "matplotlib")
    from ..train import read_dataset
    from ..train.networks import architecture_of
    from ..train.trainer import Trainer, TrainingInterrupted, TrainOptions

    if not args.model and not args.resume:
        if not args.from_dir:
            raise ConfigError("--model is required (with --from or --resume it is read from the model or the run)")
        args.model = architecture_of(args.from_dir)
    dataset = read_dataset(args.dataset)  # fails before anything is written to --output
    print(dataset.summary(), file=sys.stderr)
    options = TrainOptions(
        arch=args.model or "",
        output=args.output,
        epochs=args.epochs or (0 if args.resume else 20),
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_epochs=args.warmup_epochs,
        input_size=args.input_size,
        device=args.device,
        pretrained=args.pretrained,
        from_dir=args.from_dir,
        seed=args.seed,
        augment=args.augment,
        loss=args.loss,
        threshold=args.threshold,
        model_name=args.model_name,
        steps_per_epoch=args.steps_per_epoch,
        dataset=str(dataset.root),
        freeze=args.freeze,
        cache_features=args.cache_features,
        backbone_backend=args.backbone_backend,
        patience=args.patience,
        calibrate=args.calibrate,
    )
    given = {_TRAIN_FLAG_FIELDS.get(flag, flag) for flag in args.given}
    trainer = Trainer(dataset, options, resume=args.resume, given=given)
    try:
        history = trainer.run(progress=not args.quiet)
    except TrainingInterrupted as exc:
        print(f"pyml: {exc}", file=sys.stderr)
        return 130
    print(training_summary(trainer.out, history))
    return 0
