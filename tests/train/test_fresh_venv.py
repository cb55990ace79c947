"""docs/training.md's install line, run as written in a fresh virtual environment (no
system site-packages, so nothing the machine happens to have hides a missing
dependency), then one training step of a PaddleX architecture with what it installed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.demo_data import write_dataset

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def documented_install_line() -> str:
    """The one install line in docs/training.md's Install block."""
    text = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()]
    installs = [line for line in lines if line.startswith("pip install") and "paddleclas" in line]
    assert len(installs) == 1, installs
    return installs[0]


def test_the_documented_training_install_trains_a_paddlex_architecture(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    install = subprocess.run(
        ["bash", "-c", documented_install_line()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    assert install.returncode == 0, install.stderr[-4000:]
    dataset = write_dataset(tmp_path / "ds", {"train": 8, "val": 4}, seed=7)
    train = subprocess.run(
        [str(venv / "bin" / "pyml"), "train", str(dataset), "--model", "PP-LCNet_x1_0_ML", "--output",
         str(tmp_path / "out"), "--epochs", "1", "--batch_size", "4", "--input_size", "64", "--steps_per_epoch", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-4000:]
    assert (tmp_path / "out" / "best_model" / "inference" / "inference.yml").is_file()
    # the venv's own pyml ran, not the checkout's
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import pyml; print(pyml.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert where.stdout.startswith(str(venv)), where.stdout
