"""`--calibrate f1`: one threshold per class, chosen on the val split.

A single global threshold is wrong for rare classes: their scores rarely pass 0.5 even
when they are right. For each class with positive val images, the threshold kept is the
one that maximises that class's F1 (the prediction rule is pyml's and PaddleX's, a label
is given when `score > threshold`); a class without val positives keeps the global one.
Every threshold 0.5 could give is among the candidates, so the calibrated F1 of each
class on val is at least its F1 at 0.5.

The thresholds are written into `inference.yml` as the list PaddleX reads
(`PostProcess.MultiLabelThreshOutput.threshold: [t0, t1, ...]`), so PaddleX and pyml
both apply them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..model_dir import INFERENCE_YML, read_inference_yml, write_inference_yml

CALIBRATIONS = ("f1",)


def best_f1_threshold(positive: np.ndarray, scores: np.ndarray, default: float) -> float:
    """The threshold maximising F1 for one class; `default` when the class has no positives."""
    total_pos = int(positive.sum())
    if total_pos == 0:
        return default
    order = np.argsort(-scores, kind="stable")
    s = scores[order].astype(np.float64)
    true_pos = np.cumsum(positive[order])  # predicting the top k as positive
    k = np.arange(1, len(s) + 1)
    f1 = 2 * true_pos / (k + total_pos)
    # Only cut between two different scores: a threshold cannot split equal ones.
    cuttable = np.append(s[:-1] > s[1:], True)
    f1 = np.where(cuttable, f1, -1.0)
    best = int(np.argmax(f1))  # the first (highest-threshold) of equal F1s
    if f1[best] <= 0:
        return default
    below = s[best + 1] if best + 1 < len(s) else 0.0
    return float((s[best] + below) / 2)


def f1_thresholds(targets: np.ndarray, scores: np.ndarray, default: float) -> np.ndarray:
    """Per-class F1-best thresholds, [C] float64."""
    return np.array([best_f1_threshold(targets[:, c] > 0.5, scores[:, c], default) for c in range(targets.shape[1])])


@dataclass
class F1Report:
    macro: float  # mean F1 over the classes with val positives
    micro: float  # F1 of all (image, class) decisions pooled

    def as_dict(self) -> dict:
        return {"macro_f1": round(self.macro, 6), "micro_f1": round(self.micro, 6)}


def f1_report(targets: np.ndarray, scores: np.ndarray, thresholds: float | np.ndarray) -> F1Report:
    truth = targets > 0.5
    predicted = scores > np.asarray(thresholds, dtype=np.float64)
    tp = (truth & predicted).sum(axis=0)
    fp = (~truth & predicted).sum(axis=0)
    fn = (truth & ~predicted).sum(axis=0)
    has_pos = truth.any(axis=0)
    per_class = np.where(has_pos, 2 * tp / np.maximum(1, 2 * tp + fp + fn), np.nan)
    macro = float(np.nanmean(per_class)) if has_pos.any() else float("nan")
    pooled = 2 * tp.sum() + fp.sum() + fn.sum()
    micro = float(2 * tp.sum() / pooled) if pooled else float("nan")
    return F1Report(macro, micro)


@dataclass
class Calibration:
    thresholds: np.ndarray
    before: F1Report  # at the global threshold
    after: F1Report

    def as_dict(self, labels: list[str], default: float) -> dict:
        return {
            "method": "f1",
            "global_threshold": default,
            "at_global": self.before.as_dict(),
            "calibrated": self.after.as_dict(),
            "thresholds": {name: round(float(t), 6) for name, t in zip(labels, self.thresholds)},
        }

    def lines(self, default: float) -> list[str]:
        return [
            f"F1 at {default:g}: macro {self.before.macro:.4f}, micro {self.before.micro:.4f}",
            f"F1 calibrated: macro {self.after.macro:.4f}, micro {self.after.micro:.4f}",
        ]


def calibrate(targets: np.ndarray, scores: np.ndarray, default: float) -> Calibration:
    thresholds = f1_thresholds(targets, scores, default)
    return Calibration(thresholds, f1_report(targets, scores, default), f1_report(targets, scores, thresholds))


def write_thresholds(model_dir: str | Path, thresholds: np.ndarray) -> Path:
    """Puts per-class thresholds into a model directory's inference.yml, keeping its other
    keys and their order; the file is replaced whole."""
    path = Path(model_dir) / INFERENCE_YML
    config = read_inference_yml(model_dir)
    try:
        post = config["PostProcess"]["MultiLabelThreshOutput"]
        labels = post.get("label_list") or []
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: cannot write thresholds into it (no PostProcess.MultiLabelThreshOutput)") from exc
    if labels and len(labels) != len(thresholds):
        raise ConfigError(f"{path}: has {len(labels)} labels, not {len(thresholds)}")
    post["threshold"] = [float(t) for t in thresholds]  # unrounded: a rounded cut could cross a score
    return write_inference_yml(model_dir, config)


__all__ = [
    "CALIBRATIONS",
    "Calibration",
    "F1Report",
    "best_f1_threshold",
    "calibrate",
    "f1_report",
    "f1_thresholds",
    "write_thresholds",
]
