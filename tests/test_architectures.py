"""The six PaddleX multi-label architectures, exported by tools/export_arch.py, run in
Paddle Inference. PP-LCNet runs at the official 448x448; the others are exported at
224x224 to keep the suite fast (same graphs, a quarter of the pixels)."""

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
    batch = np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32)
    scores = backend(batch)
    assert scores.shape == (2, 80) and scores.dtype == np.float32
    assert 0.0 <= scores.min() and scores.max() <= 1.0
    assert not np.allclose(scores[0], scores[1])  # the output depends on the input
