"""PaddleX 3.7.2 as the suite drives it: its own predictor (`create_model`) on a
pyml architecture export, its own preprocessing ops, offline."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")  # no network look-ups


def load(model_name: str, model_dir: str, threads: int):
    """PaddleX's multi-label predictor on CPU with oneDNN and `threads` math threads
    (its own default would be 10, more than this machine has)."""
    import paddlex

    return paddlex.create_model(
        model_name=model_name,
        model_dir=model_dir,
        device="cpu",
        engine_config={"run_mode": "mkldnn", "cpu_threads": threads},
    )


def _predictor(model):
    """create_model returns a wrapper; the predictor with the ops and the runner is inside."""
    return getattr(model, "_predictor", model)


def preprocess(model, paths: list[str]) -> np.ndarray:
    """The batch tensor exactly as PaddleX's predictor makes it, with its own ops."""
    ops = _predictor(model).preprocessors
    images = ops["Read"](imgs=paths)
    images = ops["Resize"](imgs=images)
    images = ops["Normalize"](imgs=images)
    images = ops["ToCHW"](imgs=images)
    return ops["ToBatch"](imgs=images)[0]


def predict(model, paths: list[str], batch_size: int) -> list[tuple[list[int], list[float]]]:
    return [
        ([int(i) for i in r["class_ids"]], [float(s) for s in r["scores"]])
        for r in model.predict(paths, batch_size=batch_size)
    ]


def runner_of(model):
    return _predictor(model).runner


def set_runner(model, runner) -> None:
    _predictor(model).runner = runner
