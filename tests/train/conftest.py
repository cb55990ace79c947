"""Fixtures of the training tests: small datasets of the demo task, written by the tests,
and one short training run several tests look at."""

import pytest
from train.training_helpers import options, relabel

from pyml.train import read_dataset
from pyml.train.trainer import Trainer
from tools.demo_data import write_dataset


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The demo task: 256 train and 64 val pictures, labels = which digits are on them."""
    return write_dataset(tmp_path_factory.mktemp("digits"), {"train": 256, "val": 64}, seed=7)


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    history = Trainer(read_dataset(digits), options(out, epochs=3)).run(progress=False)
    return out, history


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """A new label set on the demo's pictures, so that --from the demo model starts a new head."""
    names = ["has a zero or a one", "has an eight or a nine", "has four digits"]
    return read_dataset(
        write_dataset(
            tmp_path_factory.mktemp("pairs"), {"train": 192, "val": 96}, seed=11, label_names=names, relabel=relabel
        )
    )
