"""A training run's options: each field's default, type, choices and help, in one place.
`pyml train`'s flags are generated from them (pyml/flags.py); `resolved()` checks them and
fills in what depends on others; `for_resume()` is the rule for what a resumed run may
change (its length, where it runs, early stopping and calibration) and what it keeps
(the rest of the recipe, from the run's train_config.json).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import ConfigError
from ..flags import flag
from .calibrate import CALIBRATIONS
from .data import DEFAULT_AUGMENT, parse_augment
from .frozen import FREEZE_CHOICES
from .loss import LOSSES
from .networks import architectures, default_input_size

DEFAULT_EPOCHS = 20


@dataclass
class TrainOptions:
    arch: str = flag(
        help=f"architecture: {', '.join(architectures())} (with --from: read from the model)",
        flag="model",
        choices=architectures(),
        metavar="ARCH",
    )
    output: str = flag(help="folder for checkpoints, metrics and the exported model", required=True)
    epochs: int = flag(
        DEFAULT_EPOCHS,
        f"total epochs (default {DEFAULT_EPOCHS}; with --resume: the first run's)",
        int,
        flag_default=None,
    )
    batch_size: int = flag(16, "images per training step", int)
    lr: float = flag(1e-4, "AdamW peak learning rate (PaddleClas: 1e-4)", float)
    weight_decay: float = flag(1e-4, "AdamW weight decay", float)
    warmup_epochs: float | None = flag(None, "linear warm-up (default: min(5, epochs/5))", float)
    input_size: int | None = flag(None, "square input side (default: 448; the demo network 64)", int)
    device: str = flag("cpu", "cpu, or gpu:N where paddle has CUDA")
    pretrained: str | None = flag(
        None,
        "a .pdparams to start from, or an official model's name "
        "(e.g. PP-LCNet_x1_0_ML: PaddleX's <NAME>_pretrained.pdparams, fetched once)",
        group="start",
    )
    from_dir: str | None = flag(
        None, "a model directory to fine-tune to this dataset's labels", flag="from", group="start"
    )
    seed: int = flag(0, "seed of the start, the shuffling and the augmentations", int)
    augment: str = flag(DEFAULT_AUGMENT, "per-batch augmentations, comma-separated (flip, color, cutout) or none")
    loss: str = flag(
        "asl",
        "asl: PaddleClas' asymmetric loss; bce: plain cross-entropy, whose scores suit the 0.5 threshold better",
        choices=tuple(LOSSES),
    )
    threshold: float = flag(0.5, "score threshold written into inference.yml", float)
    model_name: str | None = flag(None, "Global.model_name of the export (default: the architecture)")
    steps_per_epoch: int | None = flag(None, "cap the steps of an epoch (quick runs)", int)
    threads: int = 0  # preprocessing threads; 0: one per core
    dataset: str = ""  # the dataset's folder (pyml train's positional argument)
    freeze: str = flag(
        "none",
        "backbone: train the head only, the backbone running on an inference backend "
        "(an order of magnitude faster on a CPU)",
        choices=FREEZE_CHOICES,
    )
    cache_features: bool = flag(
        False,
        "with --freeze backbone: run the backbone once per image, without augmentation, and keep "
        "its features on disk (float16)",
        bool,
    )
    backbone_backend: str = flag(
        "paddle", "the inference backend of a frozen backbone (paddle: Paddle Inference with oneDNN)"
    )
    patience: int = flag(0, "stop when val mAP has not improved for N epochs (the best epoch is kept); 0: never", int)
    calibrate: str | None = flag(
        None,
        "f1: per-class thresholds that maximise each class's F1 on val, written into the export's "
        "inference.yml (PaddleX applies them too)",
        choices=CALIBRATIONS,
    )

    def resolved(self) -> TrainOptions:
        """Checked, with what depends on other options filled in."""
        if self.epochs <= 0 or self.batch_size <= 1:
            raise ConfigError("epochs must be >= 1 and batch_size >= 2 (batch norm needs two images)")
        if not (self.lr > 0):
            raise ConfigError(f"lr must be positive, not {self.lr}")
        parse_augment(self.augment)
        for name, choices in (("freeze", FREEZE_CHOICES), ("loss", tuple(LOSSES))):
            if getattr(self, name) not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {getattr(self, name)!r}")
        if self.calibrate not in (None, *CALIBRATIONS):
            raise ConfigError(f"calibrate must be one of {', '.join(CALIBRATIONS)}, not {self.calibrate!r}")
        if self.cache_features and self.freeze != "backbone":
            raise ConfigError(
                "--cache_features needs --freeze backbone (only a frozen backbone's features stay "
                "the same from one epoch to the next)"
            )
        if self.patience < 0:
            raise ConfigError(f"patience must be >= 0 (0: never stop early), not {self.patience}")
        size = self.input_size or default_input_size(self.arch)
        warmup = self.warmup_epochs if self.warmup_epochs is not None else min(5.0, self.epochs / 5)
        return TrainOptions(
            **{**asdict(self), "input_size": size, "warmup_epochs": warmup, "model_name": self.model_name or self.arch}
        )

    def for_resume(self, recorded: dict[str, Any], given: set[str], where: str) -> TrainOptions:
        """The options of a resumed run: the recorded recipe, with what a resumed run may
        change taken from these. `given`: the fields the user set; one outside RESUMABLE
        that differs from the record is refused rather than silently ignored."""
        for name in sorted(given - RESUMABLE):
            if name in recorded and getattr(self, name) != recorded[name]:
                raise ConfigError(
                    f"--{name} {getattr(self, name)} differs from the run in {where} "
                    f"({recorded[name]}): a resumed run keeps its recipe (only --epochs may grow); "
                    "choose another --output to train with the new value"
                )
        known = {f.name for f in fields(TrainOptions)}
        return TrainOptions(
            **{
                **{k: v for k, v in recorded.items() if k in known},
                "epochs": self.epochs or recorded["epochs"],
                "output": where,
                **{name: getattr(self, name) for name in ("patience", "calibrate") if name in given},
            }
        )


# What a resumed run may change; the rest of the recipe is the first run's.
RESUMABLE = {"epochs", "output", "dataset", "device", "resume", "quiet", "verbose", "patience", "calibrate"}

__all__ = ["DEFAULT_EPOCHS", "RESUMABLE", "TrainOptions"]
