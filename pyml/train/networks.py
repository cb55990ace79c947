"""The networks `pyml train` builds: the six PaddleX multi-label architectures and the
small network of the demo model. Each outputs logits [N, num_classes]; the export
adds the final sigmoid, as PaddleX's exports have it.

The six come from the `paddleclas` package's definitions (backbone + ML-Decoder
head), configured as PaddleX's training configs configure them. paddleclas 2.6's
top-level `__init__` imports its whole predictor stack (faiss, an old OpenCV, ...);
the architectures need none of it, so only its `ppcls` subpackage is imported.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys

from ..catalogue import OFFICIAL_MODELS, OfficialModel
from ..errors import ConfigError

DEMO_ARCH = "pyml-small-convnet"
INPUT_SIZE = OfficialModel.input_size  # the six's official input size (pyml/catalogue.py)
ARCHITECTURES: dict[str, dict] = {name: m.architecture for name, m in OFFICIAL_MODELS.items()}


# Model names whose exports do not say their architecture otherwise (the shipped demo model).
ARCHITECTURE_OF_MODEL_NAME = {"pyml-demo-digits_ML": DEMO_ARCH}


def architecture_of(model_dir) -> str:
    """The architecture of an exported model directory, so `--from` needs no `--model`:
    pyml's exports record it (Global.pyml_architecture, when the model has another name);
    PaddleX's are recognised by Global.model_name. Read by the one inference.yml reader."""
    from ..model_dir import load_model_dir

    spec = load_model_dir(model_dir)
    name = spec.architecture or spec.model_name
    arch = ARCHITECTURE_OF_MODEL_NAME.get(name, name)
    if arch not in architectures():
        raise ConfigError(
            f"--from {model_dir}: its model_name {name!r} is not an architecture pyml trains; "
            f"pass --model (one of {', '.join(architectures())})"
        )
    return arch


def default_input_size(arch: str) -> int:
    """448 for the six (their official size), 64 for the demo network."""
    return 64 if arch == DEMO_ARCH else INPUT_SIZE


def architectures() -> list[str]:
    return [*ARCHITECTURES, DEMO_ARCH]


def import_ppcls_arch():
    """The `ppcls.arch` module of the installed paddleclas (build_model, backbones, gears)."""
    spec = importlib.util.find_spec("paddleclas")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "the PaddleX architectures need the paddleclas package: "
            "pip install 'pyml[train]' && pip install --no-deps paddleclas==2.6.0 "
            "(docs/training.md, 'Install'; tools/bootstrap.sh does this)"
        )
    root = os.path.dirname(spec.origin)
    if root not in sys.path:
        sys.path.insert(0, root)
    import ppcls.arch  # noqa: PLC0415  (needs the path set above)
    from ppcls.utils import logger  # noqa: PLC0415

    logger.init_logger(log_level=logging.ERROR)  # some backbones log warnings (deprecations) while being built
    return ppcls.arch


def small_convnet(num_classes: int):
    """Four conv-BN-ReLU-pool blocks, global pooling and a linear multi-label head.

    The demo model's network. PP-LCNet (x0.5 and x1.0) was the first choice for the
    demo; trained from scratch on its pictures it stayed near the label prior for
    hundreds of steps (batch mAP about 0.4 after 150), where this plain network
    reached about 0.97 in the same steps on two CPU cores."""
    from paddle import nn

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2D(cin, cout, 3, padding=1), nn.BatchNorm2D(cout), nn.ReLU(), nn.MaxPool2D(2)]

    return nn.Sequential(
        *block(3, 32),
        *block(32, 64),
        *block(64, 128),
        *block(128, 128),
        nn.AdaptiveAvgPool2D(1),
        nn.Flatten(),
        nn.Linear(128, num_classes),
    )


def build_network(arch: str, num_classes: int):
    """A freshly initialised network (in train mode) with `num_classes` logits.

    It is built in a fresh name scope, so its tensors get the same generated names
    (conv2d_0.w_0, ...) in every process; an export keeps those names, which is how
    `--from` maps an export's weights back onto a network."""
    from paddle.utils import unique_name

    with unique_name.guard():
        return _build(arch, num_classes)


def _build(arch: str, num_classes: int):
    if arch == DEMO_ARCH:
        return small_convnet(num_classes)
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture '{arch}'; choose one of: {', '.join(architectures())}")
    spec = ARCHITECTURES[arch]
    config = {
        "Global": {"device": "cpu"},
        "Arch": {**spec["Arch"], "class_num": num_classes, "pretrained": False, "use_ml_decoder": True},
        "MLDecoder": {**spec["MLDecoder"], "class_num": num_classes},
    }
    return import_ppcls_arch().build_model(config, mode="train")


__all__ = [
    "ARCHITECTURES",
    "DEMO_ARCH",
    "INPUT_SIZE",
    "architecture_of",
    "architectures",
    "build_network",
    "default_input_size",
    "import_ppcls_arch",
]
