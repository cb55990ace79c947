"""Reads a PaddleX inference directory into a ModelSpec.

A directory holds `inference.json` (preferred) or `inference.pdmodel`,
`inference.pdiparams`, and `inference.yml`. The yml's preprocessing ops become
the arguments of the native PreprocessSpec; its post-processing gives the
default threshold and the label list. Anything pyml cannot honour exactly is a
ModelError naming the file and the key, never a silent approximation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ModelError

log = logging.getLogger(__name__)

MODEL_FILES = ("inference.json", "inference.pdmodel")
PARAMS_FILE = "inference.pdiparams"
CONFIG_FILE = "inference.yml"
KNOWN_SECTIONS = {"Global", "PreProcess", "PostProcess", "Hpi"}

_PIL_FILTERS = {"bilinear": "pil_bilinear"}
_CV2_FILTERS = {"linear": "cv2_linear"}
# What PaddleX accepts but pyml's native resize does not implement yet.
_PIL_KNOWN = {"nearest", "bilinear", "bicubic", "box", "lanczos", "lanczos4", "hamming"}
_CV2_KNOWN = {"nearest", "linear", "cubic", "area", "lanczos4", "bicubic"}


@dataclass(frozen=True)
class ModelSpec:
    directory: Path
    model_file: Path
    params_file: Path
    model_name: str
    preprocess: dict[str, Any]  # keyword arguments of pyml._native.PreprocessSpec
    threshold: Any = 0.5
    labels: list[str] = field(default_factory=list)

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(width, height) for a stretch resize; None for resize_short (depends on the image)."""
        if self.preprocess["resize_mode"] == "stretch":
            return self.preprocess["width"], self.preprocess["height"]
        return None


def _fail(path: Path, where: str, why: str) -> ModelError:
    return ModelError(f"{path}: {where}: {why}")


def _check_keys(path: Path, op: str, params: dict, allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise _fail(path, op, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")


def _resize_args(path: Path, params: dict) -> dict[str, Any]:
    _check_keys(path, "ResizeImage", params, {"size", "resize_short", "interpolation", "backend",
                                              "return_numpy"})
    backend = str(params.get("backend") or "cv2").lower()
    if backend not in ("pil", "cv2"):
        raise _fail(path, "ResizeImage.backend", f"'{backend}' is not one of pil, cv2")
    interp = str(params.get("interpolation") or ("bilinear" if backend == "pil" else "linear")).lower()
    supported, known = (_PIL_FILTERS, _PIL_KNOWN) if backend == "pil" else (_CV2_FILTERS, _CV2_KNOWN)
    if interp not in supported:
        why = "is not supported by pyml's native resize yet" if interp in known else "is unknown"
        raise _fail(path, "ResizeImage.interpolation",
                    f"'{interp}' with backend {backend} {why} (supported: {', '.join(supported)})")
    args: dict[str, Any] = {"filter": supported[interp]}
    size, short = params.get("size"), params.get("resize_short")
    if (size is None) == (short is None):
        raise _fail(path, "ResizeImage", "exactly one of 'size' and 'resize_short' must be given")
    if size is not None:
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            width = height = size
        elif (isinstance(size, (list, tuple)) and len(size) == 2
              and all(isinstance(v, int) and v > 0 for v in size)):
            width, height = size  # PaddleClas lists are [w, h]
        else:
            raise _fail(path, "ResizeImage.size", f"{size!r} is not a positive int or [w, h]")
        args.update(resize_mode="stretch", width=width, height=height)
    else:
        if not (isinstance(short, int) and not isinstance(short, bool) and short > 0):
            raise _fail(path, "ResizeImage.resize_short", f"{short!r} is not a positive int")
        args.update(resize_mode="short", short_side=short)
    return args


def _parse_scale(path: Path, value: Any) -> float:
    if isinstance(value, str):  # PaddleClas writes "1.0/255.0" in training configs
        num, sep, den = value.partition("/")
        try:
            return float(num) / float(den) if sep else float(num)
        except (ValueError, ZeroDivisionError):
            raise _fail(path, "NormalizeImage.scale", f"cannot read {value!r} as a number") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _fail(path, "NormalizeImage.scale", f"{value!r} is not a number")


def _normalize_args(path: Path, params: dict) -> dict[str, Any]:
    _check_keys(path, "NormalizeImage", params, {"scale", "mean", "std", "order", "channel_num"})
    out: dict[str, Any] = {"scale": _parse_scale(path, params.get("scale", 1 / 255))}
    for key, default in (("mean", [0.485, 0.456, 0.406]), ("std", [0.229, 0.224, 0.225])):
        value = params.get(key, default)
        if not (isinstance(value, (list, tuple)) and len(value) == 3
                and all(isinstance(v, (int, float)) for v in value)):
            raise _fail(path, f"NormalizeImage.{key}", f"{value!r} is not a list of 3 numbers")
        out[key] = tuple(float(v) for v in value)
    if params.get("channel_num", 3) != 3:
        raise _fail(path, "NormalizeImage.channel_num", "only 3 channels are supported")
    if params.get("order", "") not in ("", "hwc", "chw"):
        raise _fail(path, "NormalizeImage.order", f"{params.get('order')!r} is not '', hwc or chw")
    return out


def _preprocess(path: Path, ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise _fail(path, "PreProcess.transform_ops", "must be a list of operations")
    args: dict[str, Any] = {"scale": 1.0, "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}
    has_resize = False
    for i, op in enumerate(ops):
        if not (isinstance(op, dict) and len(op) == 1):
            raise _fail(path, f"PreProcess.transform_ops[{i}]", "each operation is a one-key mapping")
        name, params = next(iter(op.items()))
        params = params or {}
        if not isinstance(params, dict):
            raise _fail(path, name, f"parameters must be a mapping, not {params!r}")
        if name == "ResizeImage":
            args.update(_resize_args(path, params))
            has_resize = True
        elif name == "NormalizeImage":
            args.update(_normalize_args(path, params))
        elif name == "ToCHWImage":
            _check_keys(path, name, params, set())
        elif name == "CropImage":
            pass  # PaddleX's multi-label predictor ignores it; so do we
        else:
            raise _fail(path, f"PreProcess.transform_ops[{i}]", f"unknown operation '{name}'")
    if not has_resize:
        raise _fail(path, "PreProcess.transform_ops", "no ResizeImage operation: batches need one size")
    return args


def _postprocess(path: Path, section: Any) -> tuple[Any, list[str]]:
    if section is None:
        return 0.5, []
    if not isinstance(section, dict) or set(section) != {"MultiLabelThreshOutput"}:
        raise _fail(path, "PostProcess", "expected exactly one operation, MultiLabelThreshOutput")
    params = section["MultiLabelThreshOutput"] or {}
    _check_keys(path, "MultiLabelThreshOutput", params, {"threshold", "label_list", "delimiter"})
    labels = params.get("label_list") or []
    if not isinstance(labels, list):
        raise _fail(path, "MultiLabelThreshOutput.label_list", "must be a list of names")
    return params.get("threshold", 0.5), [str(label) for label in labels]


def load_model_dir(directory: str | Path) -> ModelSpec:
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelError(f"{directory}: model directory not found")
    model_file = next((directory / n for n in MODEL_FILES if (directory / n).is_file()), None)
    if model_file is None:
        raise ModelError(f"{directory}: no {' or '.join(MODEL_FILES)} in the model directory")
    for required in (PARAMS_FILE, CONFIG_FILE):
        if not (directory / required).is_file():
            raise ModelError(f"{directory}: {required} is missing from the model directory")
    yml = directory / CONFIG_FILE
    try:
        config = yaml.safe_load(yml.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ModelError(f"{yml}: not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{yml}: expected a mapping at the top level")
    for extra in sorted(set(config) - KNOWN_SECTIONS):
        log.warning("%s: ignoring unknown section '%s'", yml, extra)
    preprocess = config.get("PreProcess")
    if not isinstance(preprocess, dict) or "transform_ops" not in preprocess:
        raise _fail(yml, "PreProcess", "missing PreProcess.transform_ops")
    threshold, labels = _postprocess(yml, config.get("PostProcess"))
    global_section = config.get("Global") or {}
    model_name = str(global_section.get("model_name") or directory.name)
    return ModelSpec(directory=directory, model_file=model_file, params_file=directory / PARAMS_FILE,
                     model_name=model_name, preprocess=_preprocess(yml, preprocess["transform_ops"]),
                     threshold=threshold, labels=labels)
