"""Which labels a person wants: include and exclude lists of label names and categories,
the same in the pipeline config (YAML, flags, the Python API), a gRPC or HTTP request,
and `pyml batch`.

A label is kept when no include list is given or it is in one (by name or by category),
and it is in no exclude list. A filtered label is never returned: its class gets an
unreachable threshold, so the native top-k and threshold step never picks it and top_k
counts only the labels that are kept. An unknown name is a ConfigError listing the
valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError
from .thresholds import Threshold

KINDS = ("include_labels", "exclude_labels", "include_categories", "exclude_categories")
NEVER = np.float32(np.inf)  # a threshold no score reaches


def names_of(value: Any, where: str) -> tuple[str, ...]:
    """A comma-separated string or a list of names, as a tuple (empty for None or "")."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value if v.strip())
    raise ConfigError(f"{where}: expected comma-separated names or a list of names, not {value!r}")


@dataclass(frozen=True)
class LabelFilter:
    include_labels: tuple[str, ...] = ()
    exclude_labels: tuple[str, ...] = ()
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()

    @classmethod
    def of(cls, source: Any, where: str = "") -> LabelFilter:
        """From anything with the four names as attributes or keys (a config, a request)."""
        get = source.get if isinstance(source, dict) else lambda k, d=None: getattr(source, k, d)
        return cls(**{kind: names_of(get(kind, None), f"{where}{kind}") for kind in KINDS})

    def __bool__(self) -> bool:
        return any(getattr(self, kind) for kind in KINDS)

    def merged(self, other: LabelFilter) -> LabelFilter:
        """A request's filter on top of the pipeline's: include lists of the request replace
        the pipeline's, exclude lists add to them."""
        return LabelFilter(
            other.include_labels or self.include_labels,
            self.exclude_labels + other.exclude_labels,
            other.include_categories or self.include_categories,
            self.exclude_categories + other.exclude_categories,
        )

    def excluded(self, labels: list[str], categories: list[str]) -> np.ndarray | None:
        """A bool per class (True: filtered out), or None when nothing is filtered."""
        if not self:
            return None
        for kind in KINDS:
            known = labels if kind.endswith("labels") else categories
            valid = sorted({name for name in known if name})
            for name in getattr(self, kind):
                if name not in valid:
                    shown = ", ".join(valid) if valid else "none (this model's labels have no categories)"
                    raise ConfigError(f"{kind}: unknown name {name!r}; valid: {shown}")
        include = bool(self.include_labels or self.include_categories)
        out = np.zeros(len(labels), bool)
        for c, (label, category) in enumerate(zip(labels, categories)):
            included = label in self.include_labels or (bool(category) and category in self.include_categories)
            dropped = label in self.exclude_labels or (bool(category) and category in self.exclude_categories)
            out[c] = (include and not included) or dropped
        return out


def read_display_names(path: str | Path, labels: list[str]) -> list[str]:
    """A label map file: one line per label, "<id or label name><TAB><display name>" (a
    UTF-8 text; `#` starts a comment). Labels it does not name keep their own name."""
    source = Path(path).expanduser()
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"label_names: cannot read {source} ({exc})") from None
    shown = list(labels)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, tab, display = line.partition("\t")
        key = key.strip()
        if not tab or not display.strip():
            raise ConfigError(f"{source}:{number}: expected '<id or label><TAB><display name>', got {line!r}")
        if key.isdigit() and int(key) < len(labels):
            shown[int(key)] = display.strip()
        elif key in labels:
            shown[labels.index(key)] = display.strip()
        else:
            raise ConfigError(f"{source}:{number}: {key!r} is not a class id (0..{len(labels) - 1}) or a label name")
    return shown


def restrict(threshold: Threshold, excluded: np.ndarray | None) -> Threshold:
    """The threshold with every filtered class made unreachable."""
    if excluded is None:
        return threshold
    per_class = np.broadcast_to(np.asarray(threshold, np.float32), excluded.shape).copy()
    per_class[excluded] = NEVER
    return per_class


__all__ = ["KINDS", "LabelFilter", "names_of", "read_display_names", "restrict"]
