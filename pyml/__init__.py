"""pyml: fast multi-label image classification with a C++ core, PaddleX-compatible."""

from . import errors
from ._native import __version__
from .errors import BackendError, ConfigError, InputError, ModelError, PymlError

__all__ = [
    "__version__",
    "errors",
    "PymlError",
    "InputError",
    "ModelError",
    "ConfigError",
    "BackendError",
]
