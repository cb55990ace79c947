"""pyml: fast multi-label image classification with a C++ core, PaddleX-compatible.

import pyml
pipeline = pyml.create_pipeline("image_multilabel_classification")
for result in pipeline.predict("photo.jpg"):
    print(result)
"""

import logging
from importlib import metadata
from pathlib import Path

from . import errors
from .errors import BackendError, ConfigError, InputError, ModelError, PymlError
from .registry import available_pipelines, create_model, create_pipeline

logging.getLogger(__name__).addHandler(logging.NullHandler())

try:  # the installed distribution's version: pyproject.toml is its one home
    __version__ = metadata.version("pyml")
except metadata.PackageNotFoundError:  # run from a source tree that is not installed
    __version__ = "0+unknown"


def cmake_dir() -> str:
    """The installed C++ package's CMake folder, for a C++ project that links pyml::core:
    cmake -Dpyml_DIR="$(python -c 'import pyml; print(pyml.cmake_dir())')" ...
    (its libraries are static; linking them needs libturbojpeg, libpng and yaml-cpp)."""
    folder = Path(__file__).parent / "cpp" / "lib" / "cmake" / "pyml"
    if not (folder / "pymlConfig.cmake").is_file():
        raise PymlError(
            f"{folder}: no C++ package here (an editable install has none): install the wheel, "
            "or cmake --install a build of the checkout"
        )
    return str(folder)


__all__ = [
    "BackendError",
    "ConfigError",
    "InputError",
    "ModelError",
    "PymlError",
    "__version__",
    "available_pipelines",
    "cmake_dir",
    "create_model",
    "create_pipeline",
    "errors",
]
