"""A PaddleX inference directory as a ModelSpec, read by the native reader.

A directory holds `inference.json` (preferred) or `inference.pdmodel`,
`inference.pdiparams`, and `inference.yml`. The rules for reading them live in one
place, `csrc/src/model_config.cpp`, which C++ hosts call as `pyml::load_model_config`
and Python through `pyml._native.read_model_dir`: the yml's preprocessing becomes the
keyword arguments of the native PreprocessSpec, its post-processing the default
threshold and the label list, and anything pyml cannot honour exactly is a
ModelError naming the file and the key.

pyml writes inference.yml in one place too, here (`write_inference_yml`): an export
(`train/export.py`) and calibrated thresholds (`train/calibrate.py`) go through it, and
a writer that changes part of an existing file reads it with `read_inference_yml`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import _native
from .atomic import atomic_write_text
from .errors import ConfigError, ModelError

log = logging.getLogger(__name__)
INFERENCE_YML = "inference.yml"


@dataclass(frozen=True)
class ModelSpec:
    directory: Path
    model_file: Path
    params_file: Path
    model_name: str
    preprocess: dict[str, Any]  # keyword arguments of pyml._native.PreprocessSpec
    threshold: Any = 0.5  # a number, or one per class
    labels: list[str] = field(default_factory=list)
    architecture: str = ""  # Global.pyml_architecture: what pyml train built it as, when model_name does not say
    categories: list[str] = field(default_factory=list)  # Global.pyml_categories: one per label ("" none), or []

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(width, height) for a stretch resize; None for resize_short (depends on the image)."""
        if self.preprocess["resize_mode"] == "stretch":
            return self.preprocess["width"], self.preprocess["height"]
        return None


def load_model_dir(directory: str | Path) -> ModelSpec:
    directory = Path(directory)
    try:
        read = _native.read_model_dir(str(directory))
    except ModelError as exc:
        # pyml train's run folder holds its export in best_model/inference, PaddleX's output/ in inference/
        for inner, what in ((directory / "inference", "the model"), (directory / "best_model" / "inference", "")):
            if (inner / "inference.yml").is_file():
                what = what or "this is a training run's folder; its best model"
                raise ModelError(f"{exc}; {what} is in {inner}: pass that folder") from None
        raise
    for section in read["ignored_sections"]:
        log.warning("%s: ignoring unknown section '%s'", directory / "inference.yml", section)
    return ModelSpec(
        directory=directory,
        model_file=Path(read["model_file"]),
        params_file=Path(read["params_file"]),
        model_name=read["model_name"],
        preprocess=read["preprocess"],
        threshold=read["threshold"],
        architecture=read["architecture"],
        labels=read["labels"],
        categories=read["categories"],
    )


def read_inference_yml(model_dir: str | Path) -> dict:
    """A model directory's inference.yml as written, for a writer that changes part of it."""
    path = Path(model_dir) / INFERENCE_YML
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a mapping of PaddleX's inference.yml keys")
    return config


def write_inference_yml(model_dir: str | Path, config: dict) -> Path:
    """The one writer of inference.yml: keys in the given order, block style (the layout of
    PaddleClas' export), replaced whole (pyml.atomic)."""
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    return atomic_write_text(Path(model_dir) / INFERENCE_YML, text)
