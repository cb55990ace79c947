"""What the backend tests share."""

from __future__ import annotations

import pytest

from pyml.models import demo_model_dir


@pytest.fixture
def unloadable_model(tmp_path):
    """The demo model's directory with weights Paddle cannot read."""
    broken = tmp_path / "model"
    broken.mkdir()
    for name in ("inference.yml", "inference.json"):
        (broken / name).write_bytes((demo_model_dir() / name).read_bytes())
    (broken / "inference.pdiparams").write_bytes(b"not weights")
    return broken
