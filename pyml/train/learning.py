"""Whether a training run learns anything: after each validation, val mAP beside the
label-frequency baseline (a model that ignores the picture and scores each label by how
often it is in the training split), and how much the val scores vary across pictures.
A run whose mAP sits at the baseline, or whose scores are (nearly) the same for every
picture, for EPOCHS_TO_WARN validations in a row is told so in one line, once, with
what to try; metrics.json records it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import evaluate_scores

BASELINE_MARGIN = 0.02  # val mAP within this of the baseline's is "at the baseline"
COLLAPSED_SPREAD = 1e-3  # mean over classes of the per-class spread (std) of val scores
EPOCHS_TO_WARN = 2


def frequency_baseline_map(train_targets: np.ndarray, val_targets: np.ndarray) -> float:
    """The val mAP of scoring every picture with the training split's label frequencies
    (scikit-learn's AP of a constant score: each class's share of positives in val)."""
    frequencies = train_targets.mean(axis=0)
    return evaluate_scores(val_targets, np.broadcast_to(frequencies, val_targets.shape)).mAP


def score_spread(scores: np.ndarray) -> float:
    """How much scores vary across pictures: the mean over classes of their standard
    deviation. 0 for scores that are not numbers (a diverged run)."""
    if not np.isfinite(scores).all():
        return 0.0
    return float(scores.std(axis=0).mean())


@dataclass
class LearningCheck:
    baseline_map: float
    advice: str  # what to try, for this run's options
    streak: int = 0  # validations in a row at the baseline or collapsed
    verdict: dict | None = None  # set once, when the run is told it does not learn

    def after_validation(self, epoch: int, val_map: float, spread: float) -> str | None:
        """Updates the streak; returns the warning line the first time it reaches EPOCHS_TO_WARN."""
        at_baseline = not val_map > self.baseline_map + BASELINE_MARGIN  # NaN counts as not learning
        collapsed = spread < COLLAPSED_SPREAD
        self.streak = self.streak + 1 if (at_baseline or collapsed) else 0
        if self.streak < EPOCHS_TO_WARN or self.verdict is not None:
            return None
        reasons = []
        if at_baseline:
            reasons.append(
                f"val mAP {val_map:.4f} is at the label-frequency baseline's {self.baseline_map:.4f} "
                "(a model that ignores the picture)"
            )
        if collapsed:
            reasons.append(f"its scores are the same for every picture (spread {spread:.2g})")
        self.verdict = {
            "since_epoch": epoch - EPOCHS_TO_WARN + 1,
            "at_baseline": at_baseline,
            "collapsed": collapsed,
            "val_mAP": round(float(val_map), 6) if np.isfinite(val_map) else None,
            "score_spread": spread,
        }
        return (
            f"warning: the model is not learning: for {EPOCHS_TO_WARN} epochs {' and '.join(reasons)}; "
            f"try {self.advice}"
        )


def advice_for(pretrained: bool, lr: float, epochs: int) -> str:
    """What to try, given what this run did."""
    steps = []
    if not pretrained:
        steps.append("a pretrained start (--pretrained NAME, or --from MODEL_DIR)")
    steps.append(f"a smaller learning rate than --lr {lr:g} (e.g. {lr / 10:g})")
    steps.append(f"more epochs than {epochs}")
    return ", ".join(steps[:-1]) + " or " + steps[-1]


__all__ = ["BASELINE_MARGIN", "EPOCHS_TO_WARN", "LearningCheck", "advice_for", "frequency_baseline_map", "score_spread"]
