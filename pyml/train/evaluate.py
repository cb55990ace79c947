"""Multi-label evaluation: average precision per class and their mean (mAP), with
scikit-learn's `average_precision_score` (PaddleClas' "integral mAP" is the same mean of
per-class APs). A class with no positive image in the split has no AP; it is reported
as None and left out of the mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, count


@dataclass
class Evaluation:
    mAP: float  # noqa: N815 (the metric's name)
    ap: list[float | None]  # per class; None: no positives in the split
    images: int

    def as_dict(self, labels: list[str]) -> dict:
        return {
            "mAP": round(self.mAP, 6),
            "images": self.images,
            "AP": {name: None if ap is None else round(ap, 6) for name, ap in zip(labels, self.ap)},
        }

    def table(self, labels: list[str]) -> str:
        width = max(8, *(len(n) for n in labels))
        lines = [f"mAP {self.mAP:.4f} on {count(self.images, 'image')}", f"{'id':>4}  {'class':<{width}}  AP"]
        for c, (name, ap) in enumerate(zip(labels, self.ap)):
            lines.append(f"{c:>4}  {name:<{width}}  {'-' if ap is None else f'{ap:.4f}'}")
        return "\n".join(lines)


def evaluate_scores(targets: np.ndarray, scores: np.ndarray) -> Evaluation:
    from sklearn.metrics import average_precision_score

    aps: list[float | None] = []
    for c in range(targets.shape[1]):
        positives = targets[:, c] > 0.5
        aps.append(float(average_precision_score(positives, scores[:, c])) if positives.any() else None)
    defined = [a for a in aps if a is not None]
    return Evaluation(float(np.mean(defined)) if defined else float("nan"), aps, len(targets))


def network_scores(network, loader) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid scores of a dygraph network over a loader's (unaugmented) epoch, in eval mode."""
    import paddle

    was_training = network.training
    network.eval()
    scores, targets = [], []
    with paddle.no_grad():
        for batch in loader.epoch(0):
            scores.append(paddle.nn.functional.sigmoid(network(paddle.to_tensor(batch.images))).numpy())
            targets.append(batch.targets)
    if was_training:
        network.train()
    return np.concatenate(targets), np.concatenate(scores)


def model_dir_scores(
    model_dir: str | Path,
    dataset,
    split: str = "val",
    batch_size: int = 16,
    device: str | None = None,
    **options,
) -> tuple[np.ndarray, np.ndarray]:
    """(targets, scores) of an exported model (any PaddleX model directory) on a dataset
    split, through pyml's pipeline; `options` are pipeline options (backend, precision)."""
    from ..registry import create_model

    model = create_model(model_dir=model_dir, device=device, batch_size=batch_size, **options)
    if model.num_classes != dataset.num_classes:
        raise ConfigError(
            f"{model_dir} outputs {model.num_classes} scores but {dataset.root}/label.txt "
            f"has {dataset.num_classes} classes"
        )
    samples = dataset.splits[split]
    scores = np.stack([r.all_scores for r in model.predict([str(s.path) for s in samples])])
    return dataset.targets(split), scores


def evaluate_model_dir(
    model_dir: str | Path,
    dataset,
    split: str = "val",
    batch_size: int = 16,
    device: str | None = None,
    **options,
) -> Evaluation:
    """An exported model (any PaddleX model directory) on a dataset split, through pyml's pipeline."""
    return evaluate_scores(*model_dir_scores(model_dir, dataset, split, batch_size, device, **options))


__all__ = ["Evaluation", "evaluate_model_dir", "evaluate_scores", "model_dir_scores", "network_scores"]
