"""What the training tests share: the small network's name, a run's options, the command line."""

import subprocess
import sys

import numpy as np

from pyml.train.options import TrainOptions

SMALL = "pyml-small-convnet"


def options(out, **changes) -> TrainOptions:
    base = dict(
        arch=SMALL,
        output=str(out),
        epochs=2,
        batch_size=32,
        lr=3e-3,
        warmup_epochs=0,
        augment="color",
        input_size=64,
        steps_per_epoch=4,
    )
    return TrainOptions(**{**base, **changes})


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "pyml.cli", *args], capture_output=True, text=True, timeout=timeout)


def relabel(digits_vector):
    present = set(np.nonzero(digits_vector)[0].tolist())
    return [int(bool(present & {0, 1})), int(bool(present & {8, 9})), int(len(present) == 4)]


def yaml_threshold(model_dir):
    import yaml

    return yaml.safe_load((model_dir / "inference.yml").read_text())["PostProcess"]["MultiLabelThreshOutput"][
        "threshold"
    ]
