"""pyml: fast multi-label image classification with a C++ core, PaddleX-compatible.

import pyml
pipeline = pyml.create_pipeline("image_multilabel_classification")
for result in pipeline.predict("photo.jpg"):
    print(result)
"""

import logging
from importlib import metadata

from . import errors
from .errors import BackendError, ConfigError, InputError, ModelError, PymlError
from .registry import available_pipelines, create_model, create_pipeline

logging.getLogger(__name__).addHandler(logging.NullHandler())

try:  # the installed distribution's version: pyproject.toml is its one home
    __version__ = metadata.version("pyml")
except metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "BackendError",
    "ConfigError",
    "InputError",
    "ModelError",
    "PymlError",
    "__version__",
    "available_pipelines",
    "create_model",
    "create_pipeline",
    "errors",
]
