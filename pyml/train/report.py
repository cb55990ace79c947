"""What a training run reports: its per-epoch history, metrics.json and the curve PNG."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_map: float = -1.0
    calibration: dict | None = None  # the best epoch's, with --calibrate
    stopped_early: bool = False
    baseline_map: float | None = None  # val mAP of the label-frequency baseline (learning.py)
    not_learning: dict | None = None  # set when the run was told it does not learn


def write_metrics(out: Path, history: History, summary: dict) -> None:
    """OUT/metrics.json (the run's summary, then every epoch) and OUT/training_curve.png."""
    metrics = {
        **summary,
        "best_epoch": history.best_epoch,
        "best_val_mAP": round(history.best_map, 6),
        "baseline_val_mAP": None if history.baseline_map is None else round(history.baseline_map, 6),
        "not_learning": history.not_learning,
        "calibration": history.calibration,
        "stopped_early": history.stopped_early,
        "epochs": history.epochs,
    }
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    try:
        plot_curve(history, out / "training_curve.png")
    except ImportError:  # matplotlib is optional
        log.info("matplotlib is not installed: no training_curve.png")


def plot_curve(history: History, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [e["epoch"] for e in history.epochs]
    fig, left = plt.subplots(figsize=(6, 3.5), dpi=100)
    left.plot(epochs, [e["loss"] for e in history.epochs], "o-", color="tab:red", label="train loss")
    left.set_xlabel("epoch")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 1.5 on the axis
    left.set_ylabel("train loss", color="tab:red")
    right = left.twinx()
    right.plot(epochs, [e["val"]["mAP"] for e in history.epochs], "s-", color="tab:blue", label="val mAP")
    right.set_ylabel("val mAP", color="tab:blue")
    right.set_ylim(0, 1)
    title = f"best val mAP {history.best_map:.4f} (epoch {history.best_epoch})"
    if history.calibration:
        at, cal = history.calibration["at_global"], history.calibration["calibrated"]
        title += (
            f"\nmacro F1 {at['macro_f1']:.3f} at {history.calibration['global_threshold']:g}, "
            f"{cal['macro_f1']:.3f} calibrated; micro {at['micro_f1']:.3f} / {cal['micro_f1']:.3f}"
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


__all__ = ["History", "plot_curve", "write_metrics"]
