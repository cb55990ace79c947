"""Native postprocess against a numpy reference."""

import numpy as np
import pytest
import reference

from pyml import _native


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(7)
    return rng.random((16, 80), dtype=np.float32)


@pytest.mark.parametrize("threshold", [0.5, 0.0, 0.99, 1, 0])
def test_global_threshold(scores, threshold):
    assert _native.postprocess(scores, threshold) == reference.postprocess(scores, threshold)


def test_per_class_threshold_applies_to_classes_not_rows(scores):
    per_class = np.linspace(0.1, 0.9, 80).astype(np.float32)
    ours = _native.postprocess(scores, per_class)
    assert ours == reference.postprocess(scores, per_class)
    # PaddleX 3.7.2 would use entry i for every class of row i; with the ramp above
    # that gives a different answer for at least one row.
    by_row = [reference.postprocess(scores[i : i + 1], per_class[i])[0] for i in range(16)]
    assert ours != by_row


@pytest.mark.parametrize("top_k", [1, 3, 80, 200])
def test_top_k(scores, top_k):
    assert _native.postprocess(scores, 0.2, top_k=top_k) == reference.postprocess(scores, 0.2, top_k)


def test_strict_greater_and_float32_compare():
    row = np.array([[0.5, np.float32(0.3), 0.7, np.nan]], np.float32)
    ids, _ = _native.postprocess(row, 0.5)[0]
    assert ids == [2]
    assert _native.postprocess(row, 0.3)[0][0] == [2, 0]  # 0.3 as float32 is not > float32(0.3)


def test_ties_keep_class_order():
    row = np.array([[0.9, 0.6, 0.9, 0.6, 0.1]], np.float32)
    assert _native.postprocess(row, 0.5)[0][0] == [0, 2, 1, 3]


def test_empty_result_and_empty_batch():
    assert _native.postprocess(np.zeros((2, 5), np.float32), 0.5) == [([], []), ([], [])]
    assert _native.postprocess(np.zeros((0, 5), np.float32), 0.5) == []


def test_sigmoid():
    logits = np.array([[-2.0, 0.0, 3.0]], np.float32)
    ids, values = _native.postprocess(logits, 0.4, sigmoid=True)[0]
    assert ids == [2, 1]
    np.testing.assert_allclose(values, 1 / (1 + np.exp(-np.array([3.0, 0.0]))), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="expected 1 or one per class"):
        _native.postprocess(np.zeros((1, 5), np.float32), [0.5, 0.5])
    with pytest.raises(ValueError, match="top_k"):
        _native.postprocess(np.zeros((1, 5), np.float32), 0.5, top_k=0)
    with pytest.raises(ValueError, match="2-D"):
        _native.postprocess(np.zeros(5, np.float32), 0.5)


def test_top_k_larger_than_an_int_keeps_every_label_and_non_positive_is_refused():
    scores = np.array([[0.9, 0.1, 0.8]], np.float32)
    assert _native.postprocess(scores, 0.5, top_k=10**30) == _native.postprocess(scores, 0.5)
    for bad in (0, -1, -(10**30)):
        with pytest.raises(ValueError, match="positive"):
            _native.postprocess(scores, 0.5, top_k=bad)
    with pytest.raises(TypeError):
        _native.postprocess(scores, 0.5, top_k=2.5)
