"""Inference runtimes as plugins.

A backend is found by name: the built-in `paddle` (the reference), `openvino` and
`onnxruntime` (over the model's converted ONNX file, optional extras), `auto` (the
fastest of those on this machine, by measurement), or any entry point in the
group `pyml.backends` whose object is a factory
`factory(model_file: Path, params_file: Path, device: Device, **options) -> Backend`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

from ..errors import BackendError
from .base import Backend
from .device import Device, parse_device

ENTRY_POINT_GROUP = "pyml.backends"
_BUILTIN = {
    "paddle": "pyml.backends.paddle:PaddleBackend",
    "openvino": "pyml.backends.openvino:OpenVinoBackend",
    "onnxruntime": "pyml.backends.onnxruntime:OnnxRuntimeBackend",
    "auto": "pyml.backends.auto:create_auto",
}
PRECISIONS = ("fp32", "bf16", "int8")  # the one list; config, the CLI and the backends read it


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def available_backends() -> list[str]:
    names = set(_BUILTIN)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def create_backend(name: str, model_file: Path, params_file: Path, device: Device, **options) -> Backend:
    """options: cpu_threads, enable_mkldnn, precision (fp32 | bf16 | int8), and for `auto`
    input_shape, sample and model_name (what it measures with, and whose parity
    tolerance applies) and measure (before the first answer or while serving); a backend
    ignores what it has no use for."""
    if name != "auto":
        for auto_only in ("input_shape", "sample", "model_name", "measure"):
            options.pop(auto_only, None)
    if name in _BUILTIN:
        factory = _load(_BUILTIN[name])
    else:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
        if not matches:
            raise BackendError(f"unknown backend '{name}'; available: {', '.join(available_backends())}")
        factory = matches[0].load()
    return factory(model_file, params_file, device, **options)


__all__ = ["Backend", "Device", "available_backends", "create_backend", "parse_device"]
