"""pyml: fast multi-label image classification with a C++ core, PaddleX-compatible.

import pyml
pipeline = pyml.create_pipeline("image_multilabel_classification")
for result in pipeline.predict("photo.jpg"):
    print(result)
"""

import logging

from . import errors
from ._native import __version__
from .errors import BackendError, ConfigError, InputError, ModelError, PymlError
from .registry import available_pipelines, create_model, create_pipeline

logging.getLogger(__name__).addHandler(logging.NullHandler())

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
