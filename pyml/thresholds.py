"""Threshold forms accepted by pyml, checked once and turned into what the native
postprocess takes: one float for all classes, or one float per class.

Forms: a number (int or float) for every class; a list with one number per
class (entry c applies to class c); a dict with a required "default" and int
(or digit-string) class keys overriding it. Every value must lie in [0, 1].
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ConfigError

# A threshold as the native postprocess takes it: one for every class, or one per class (float32).
Threshold = float | np.ndarray


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{where}: {value!r} is not a number")
    value = float(value)
    if not (0.0 <= value <= 1.0) or math.isnan(value):
        raise ConfigError(f"{where}: {value} is outside [0, 1]")
    return value


def resolve_threshold(value: Any, num_classes: int, where: str = "threshold") -> Threshold:
    """A float, or a float32 array of num_classes values. Raises ConfigError naming `where`."""
    if isinstance(value, dict):
        if "default" not in value:
            raise ConfigError(f"{where}: a per-class dict needs a 'default' key")
        per_class = np.full(num_classes, _number(value["default"], f"{where}['default']"), np.float32)
        for key, v in value.items():
            if key == "default":
                continue
            if isinstance(key, str) and key.isdigit():
                key = int(key)
            if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < num_classes:
                raise ConfigError(f"{where}: key {key!r} is not a class id in 0..{num_classes - 1}")
            per_class[key] = _number(v, f"{where}[{key}]")
        return per_class
    if isinstance(value, (list, tuple, np.ndarray)):
        values = list(value)
        if len(values) != num_classes:
            raise ConfigError(f"{where}: has {len(values)} values; the model has {num_classes} classes")
        return np.array([_number(v, f"{where}[{i}]") for i, v in enumerate(values)], np.float32)
    return _number(value, where)
