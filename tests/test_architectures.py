"""The six PaddleX multi-label architectures, exported by tools/export_arch.py, run in
Paddle Inference. PP-LCNet runs at the official 448x448; the others are exported at
224x224 to keep the suite fast (same graphs, a quarter of the pixels)."""

import images
import numpy as np
import pytest

from pyml.backends import create_backend, parse_device
from pyml.model_dir import load_model_dir
from tools.export_arch import ARCHITECTURES


@pytest.mark.parametrize("model_name", sorted(ARCHITECTURES))
def test_export_loads_and_returns_80_probabilities(model_name, architecture_export):
    model_dir, size = architecture_export(model_name)
    spec = load_model_dir(model_dir)
    assert spec.model_name == model_name and len(spec.labels) == 80
    assert spec.input_size == (size, size)
    backend = create_backend("paddle", spec.model_file, spec.params_file, parse_device("cpu"))
    batch = images.photo_batch(size)
    scores = backend(batch)
    assert scores.shape == (len(batch), 80) and scores.dtype == np.float32
    assert scores.min() >= 0.0 and scores.max() <= 1.0
    assert not np.allclose(scores[0], scores[1])  # the output depends on the input


@pytest.mark.parametrize("model_name", sorted(ARCHITECTURES))
def test_exports_are_calibrated_like_trained_networks(model_name, architecture_export):
    """Random weights, trained statistics (tools/export_arch.calibrate): a photo passes 0.5
    on a handful of the 80 labels, and scores are spread, not saturated at 0 or 1."""
    model_dir, size = architecture_export(model_name)
    spec = load_model_dir(model_dir)
    scores = create_backend("paddle", spec.model_file, spec.params_file, parse_device("cpu"))(images.photo_batch(size))
    labels_per_photo = (scores > 0.5).sum(axis=1).mean()
    assert 0.5 <= labels_per_photo <= 16, f"{labels_per_photo} labels per photo"
    saturated = ((scores < 1e-6) | (scores > 1 - 1e-6)).mean()
    assert saturated < 0.05, f"{saturated:.0%} of scores saturated"


def test_check_exports_checks_what_is_there_and_exports_only_on_request(lcnet_export, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = lcnet_export.parent
    before = sorted(p.name for p in folder.iterdir())
    run = subprocess.run(
        [sys.executable, "-m", "tools.check_exports", str(folder), "--runs", "1"],
        capture_output=True, text=True, timeout=600, cwd=root,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("PP-")]
    assert len(rows) == 1 and rows[0].startswith("PP-LCNet_x1_0_ML") and "[1, 80] in [0, 1]" in rows[0]
    assert "exporting" not in run.stdout and sorted(p.name for p in folder.iterdir()) == before
    empty = subprocess.run(
        [sys.executable, "-m", "tools.check_exports", str(tmp_path)], capture_output=True, text=True, cwd=root
    )
    assert empty.returncode == 2 and "pass --export to make them" in empty.stderr
    assert list(tmp_path.iterdir()) == []
