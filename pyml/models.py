"""Models by name: the six official PaddleX multi-label models and the embedded demo,
found the way PaddleX finds them, downloaded only when nothing local has them.

For a name without a model_dir (create_model(name), a pipeline YAML's model_name with
`model_dir: null`, `--pipeline multi_label_image_classification`), in this order:
1. PaddleX's cache, `${PADDLE_PDX_CACHE_HOME:-~/.paddlex}/official_models/<NAME>`, as is;
2. `$PYML_MODEL_HOME/<NAME>`, if that variable is set;
3. a download of PaddleX's official package
   `<base>/official_inference_model/paddle3.0.0/<NAME>_infer.tar`, unpacked into (2) if
   set, else into (1), so that PaddleX and pyml share one copy.
`<base>` is `$PYML_MODEL_MIRROR` if set (a copy of the same tree), else PaddleX's server;
with `PYML_OFFLINE=1` step 3 is an error instead. An explicit model_dir never gets here.

The download itself (step 3) is pyml/downloads.py's.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

from .backends.paddle import paddle_installed
from .catalogue import OFFICIAL_MODELS, OfficialModel
from .errors import BackendError, ConfigError, advice

log = logging.getLogger(__name__)

DEMO_MODEL_NAME = "pyml-demo-digits_ML"
MODEL_FILES = ("inference.yml", "inference.pdiparams")


def demo_model_dir() -> Path:
    return Path(str(resources.files("pyml") / "demo" / "model"))


def default_model_name(model_name: str | None, model_dir: str | Path | None) -> str | None:
    """The one decision on a model nobody named: with neither a name nor a folder, the
    embedded demo model (it answers offline on a fresh machine); otherwise what was given."""
    return DEMO_MODEL_NAME if model_name is None and model_dir is None else model_name


def is_demo(name: str | None) -> bool:
    return name in (None, DEMO_MODEL_NAME)


def known_names() -> list[str]:
    return [*OFFICIAL_MODELS, DEMO_MODEL_NAME]


def check_name(name: str, source: str = "model_name") -> None:
    """A ConfigError unless `name` can be found without a model_dir. `source` names what
    gave the name; `pyml download` gets advice of its own (it takes no folder)."""
    if name not in OFFICIAL_MODELS and not is_demo(name):
        names = ", ".join(known_names())
        if source == "pyml download":
            raise ConfigError(
                f"{source}: '{name}' is not an official model ({names}); download fetches those only, "
                "and an export of your own needs no download"
            )
        if source == "--pretrained":
            raise ConfigError(
                f"{source}: no published training weights are called '{name}' ({names}); for a file of "
                "your own, give its path (a .pdparams)"
            )
        hint = advice(
            "for your own export, pass its folder (--model_dir, or model_dir in a pipeline YAML)",
            "for your own export, pass its folder (model_dir=...)",
        )
        raise ConfigError(
            f"{source}: model '{name}' has no model_dir and is not a model pyml can find by name ({names}); {hint}"
        )


def paddlex_models_dir() -> Path:
    home = os.environ.get("PADDLE_PDX_CACHE_HOME") or "~/.paddlex"
    return Path(home).expanduser() / "official_models"


def download_dir() -> Path:
    """Where a download lands: $PYML_MODEL_HOME if set, else PaddleX's cache."""
    own = os.environ.get("PYML_MODEL_HOME")
    return Path(own).expanduser() if own else paddlex_models_dir()


def pretrained_dir() -> Path:
    own = os.environ.get("PYML_MODEL_HOME")
    return (Path(own).expanduser() if own else paddlex_models_dir().parent) / "official_pretrained"


def locations(name: str) -> list[Path]:
    """The folders looked in for `name`, in order."""
    found = [paddlex_models_dir() / name]
    if os.environ.get("PYML_MODEL_HOME"):
        found.append(download_dir() / name)
    return found


def is_model_dir(path: Path) -> bool:
    return (
        path.is_dir()
        and all((path / f).is_file() for f in MODEL_FILES)
        and any((path / f).is_file() for f in ("inference.json", "inference.pdmodel"))
    )


def find_local(name: str) -> Path | None:
    if is_demo(name):
        return demo_model_dir()
    return next((path for path in locations(name) if is_model_dir(path)), None)


def resolve_model_dir(model_name: str | None, model_dir: str | Path | None, progress: bool = True) -> Path:
    """The one place that decides which folder a pipeline loads: an explicit model_dir,
    else the demo for the demo's name (or none), else an official model by name."""
    if model_dir:
        return Path(model_dir).expanduser()
    if model_name is None or is_demo(model_name):
        return demo_model_dir()
    check_name(model_name)
    found = find_local(model_name)
    if found is None and not paddle_installed():  # a plain install: it could download, not run
        raise BackendError(
            f"{model_name} runs on Paddle, which is not installed (nothing was downloaded): pip install 'pyml[cpu]'"
        )
    from .downloads import download_model  # noqa: PLC0415 (downloads reads where models live from here)

    return found or download_model(model_name, progress=progress)


__all__ = [
    "DEMO_MODEL_NAME",
    "OFFICIAL_MODELS",
    "OfficialModel",
    "demo_model_dir",
    "find_local",
    "known_names",
    "locations",
    "resolve_model_dir",
]
