"""`pyml eval --report`: how good a model is on a labelled split, as one self-contained
HTML page (evaluation.html), for a person deciding whether to ship it.

Every figure is scikit-learn's on the scores the model gives through pyml's pipeline:
per class AP, precision, recall and F1 at the threshold the model applies (strict
`score > threshold`, as pyml and PaddleX answer), support; mAP and the micro/macro
summary beside the label-frequency baseline (a model that ignores the picture and
scores each label by its training frequency); a precision-recall curve per class with
the applied threshold marked; the worst false positives and negatives as thumbnails;
and which labels stand in for which most often. Two models on the same pictures add
per-class deltas, largest change first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pages import thumbnail, write_page

CURVE_POINTS = 120  # points kept of each precision-recall curve
WORST = 4  # false positives and negatives shown per class
CONFUSIONS = 20  # label pairs listed
THUMB_SIDE = 112


@dataclass
class ScoredModel:
    """One model's scores on the split, and the thresholds it applies (one per class)."""

    name: str
    model_dir: str
    scores: np.ndarray  # [N, C]
    thresholds: np.ndarray  # [C]


def _rounded(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def summary(targets: np.ndarray, predicted: np.ndarray, aps: list[float | None]) -> dict:
    """mAP and the micro/macro precision, recall and F1 (scikit-learn, zero_division=0)."""
    from sklearn.metrics import precision_recall_fscore_support

    out = {"mAP": _rounded(np.mean([a for a in aps if a is not None])) if any(a is not None for a in aps) else None}
    for average in ("micro", "macro"):
        p, r, f, _ = precision_recall_fscore_support(targets, predicted, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return out


def class_figures(targets: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> list[dict]:
    """Per class: support, threshold, AP (None without positives), precision, recall, F1."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support

    predicted = scores > thresholds
    precision, recall, f1, support = precision_recall_fscore_support(targets, predicted, average=None, zero_division=0)
    rows = []
    for c in range(targets.shape[1]):
        positives = targets[:, c] > 0.5
        ap = float(average_precision_score(positives, scores[:, c])) if positives.any() else None
        rows.append(
            {
                "support": int(support[c]),
                "threshold": float(thresholds[c]),
                "ap": ap,
                "precision": float(precision[c]),
                "recall": float(recall[c]),
                "f1": float(f1[c]),
                "predicted": int(predicted[:, c].sum()),
            }
        )
    return rows


def pr_curve(positives: np.ndarray, scores: np.ndarray) -> list[list[float]]:
    """scikit-learn's precision-recall curve as [recall, precision] points, thinned to
    about CURVE_POINTS (the ends kept)."""
    from sklearn.metrics import precision_recall_curve

    if not positives.any():
        return []
    precision, recall, _ = precision_recall_curve(positives, scores)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(len(recall), CURVE_POINTS)).round().astype(int))
    return [[round(float(recall[i]), 5), round(float(precision[i]), 5)] for i in keep]


def worst(targets: np.ndarray, scores: np.ndarray, predicted: np.ndarray, c: int) -> tuple[list, list]:
    """(false positives by score high to low, false negatives by score low to high), as
    (picture index, score), WORST of each."""
    fp = np.nonzero(predicted[:, c] & (targets[:, c] < 0.5))[0]
    fn = np.nonzero(~predicted[:, c] & (targets[:, c] > 0.5))[0]
    fp = fp[np.argsort(-scores[fp, c], kind="stable")][:WORST]
    fn = fn[np.argsort(scores[fn, c], kind="stable")][:WORST]
    return [(int(i), float(scores[i, c])) for i in fp], [(int(i), float(scores[i, c])) for i in fn]


def confusions(targets: np.ndarray, predicted: np.ndarray) -> list[dict]:
    """Labels predicted in place of another: on a picture where label `truth` is missed and
    label `instead` is wrongly given, the pair counts once. Most frequent first."""
    missed = (targets > 0.5) & ~predicted
    extra = predicted & (targets < 0.5)
    counts = missed.T.astype(np.int64) @ extra.astype(np.int64)  # [truth, instead]
    pairs = np.argwhere(counts > 0)
    order = sorted(pairs.tolist(), key=lambda p: (-counts[p[0], p[1]], p[0], p[1]))[:CONFUSIONS]
    return [{"truth": t, "instead": i, "pictures": int(counts[t, i])} for t, i in order]


def frequency_baseline(train_targets: np.ndarray, targets: np.ndarray, thresholds: np.ndarray) -> dict:
    """The summary of a model that scores every picture with the training frequencies."""
    from sklearn.metrics import average_precision_score

    frequencies = train_targets.mean(axis=0)
    constant = np.broadcast_to(frequencies, targets.shape)
    aps = [
        float(average_precision_score(targets[:, c] > 0.5, constant[:, c])) if (targets[:, c] > 0.5).any() else None
        for c in range(targets.shape[1])
    ]
    return {**summary(targets, constant > thresholds, aps), "frequencies": [float(f) for f in frequencies]}


def model_page_data(model: ScoredModel, targets: np.ndarray, train_targets: np.ndarray, thumbs: dict) -> dict:
    """One model's figures; `thumbs` collects the pictures its worst lists name."""
    predicted = model.scores > model.thresholds
    classes = class_figures(targets, model.scores, model.thresholds)
    for c, row in enumerate(classes):
        row["curve"] = pr_curve(targets[:, c] > 0.5, model.scores[:, c])
        fps, fns = worst(targets, model.scores, predicted, c)
        row["fp"] = [{"i": i, "s": round(s, 5)} for i, s in fps]
        row["fn"] = [{"i": i, "s": round(s, 5)} for i, s in fns]
        for i, _ in fps + fns:
            thumbs.setdefault(i, None)
    return {
        "name": model.name,
        "modelDir": model.model_dir,
        "summary": summary(targets, predicted, [r["ap"] for r in classes]),
        "baseline": frequency_baseline(train_targets, targets, model.thresholds),
        "classes": classes,
        "confusions": confusions(targets, predicted),
    }


def evaluation_page_data(
    models: list[ScoredModel],
    labels: list[str],
    targets: np.ndarray,
    train_targets: np.ndarray,
    pictures: list[str],
    title: str,
    baseline_from: str,
) -> dict:
    """Everything the page shows, computed here (the page only lays it out)."""
    thumbs: dict[int, str | None] = {}
    pages = [model_page_data(m, targets, train_targets, thumbs) for m in models]
    for i in thumbs:
        thumbs[i] = thumbnail(pictures[i], THUMB_SIDE, Path.cwd())
    return {
        "title": title,
        "labels": labels,
        "pictures": len(pictures),
        "baselineFrom": baseline_from,
        "models": pages,
        "names": {str(i): pictures[i] for i in thumbs},
        "thumbs": {str(i): t for i, t in thumbs.items() if t},
    }


def write_evaluation_report(output: str | Path, **page) -> Path:
    """Writes the page (evaluation_page_data's arguments) to `output`."""
    return write_page("evaluation.html", evaluation_page_data(**page), Path(output).expanduser())


def report_models(
    model_dirs: list[str | Path],
    dataset,
    output: str | Path,
    split: str = "val",
    train_targets: np.ndarray | None = None,
    batch_size: int = 16,
    device: str | None = None,
    **options,
) -> Path:
    """Scores each model directory on the dataset's split through pyml's pipeline and
    writes the page; `train_targets` give the baseline's frequencies (default: the split's
    own)."""
    from ..model_dir import load_model_dir  # noqa: PLC0415
    from ..train.evaluate import model_dir_scores  # noqa: PLC0415

    models, targets = [], None
    for k, model_dir in enumerate(model_dirs):
        spec = load_model_dir(model_dir)
        targets, scores = model_dir_scores(model_dir, dataset, split, batch_size, device, **options)
        thresholds = np.broadcast_to(np.asarray(spec.threshold, np.float64), scores.shape[1:]).copy()
        name = spec.model_name if len(model_dirs) == 1 else f"{'AB'[k]}: {spec.model_name}"
        models.append(ScoredModel(name, str(model_dir), scores, thresholds))
    return write_evaluation_report(
        output,
        models=models,
        labels=dataset.labels,
        targets=targets,
        train_targets=targets if train_targets is None else train_targets,
        pictures=[str(s.path) for s in dataset.splits[split]],
        title=f"{Path(dataset.root).name}, {split} split",
        baseline_from="the train split" if train_targets is not None else f"the {split} split itself",
    )


__all__ = ["ScoredModel", "evaluation_page_data", "report_models", "write_evaluation_report"]
