"""The parity rule itself (pyml.backends.parity), on score arrays whose answer is known."""

import numpy as np
import pytest

from pyml.backends import parity


def _scores() -> np.ndarray:
    return np.array([[0.9, 0.1, 0.5000004, 0.3], [0.2, 0.7, 0.6, 0.49]], dtype=np.float32)


def test_rounding_sized_differences_pass():
    ref = _scores()
    report = parity.compare(ref, ref + 3e-6, "PP-LCNet_x1_0_ML")
    assert report.ok and report.max_abs_diff == pytest.approx(3e-6, rel=0.1)


def test_one_class_beyond_the_tolerance_fails_and_names_where_and_the_machine():
    ref = _scores()
    bad = ref.copy()
    bad[1, 3] += 1e-3
    report = parity.compare(ref, bad, "PP-LCNet_x1_0_ML")
    assert not report.ok and report.worst == (1, 3)
    message = report.failure_message("openvino")
    assert "openvino differs from paddle" in message and "row 1, class 3" in message
    assert "CPU " in message and "paddlepaddle " in message and "onnxruntime" in message


def test_a_class_at_the_threshold_may_flip_one_decided_may_not():
    ref = _scores()
    near = ref.copy()
    near[0, 2] = 0.4999998  # reference 0.5000004: within 1e-5 of the threshold, may land either side
    report = parity.compare(ref, near)
    assert report.ok and report.label_flips == []
    far = ref.copy()
    far[1, 2] = 0.45  # reference 0.6: decided, now on the other side
    report = parity.compare(ref, far)
    assert report.label_flips == [(1, 2)] and "other side of the threshold" in report.describe()


def test_per_class_thresholds_and_the_table():
    ref = _scores()
    moved = ref.copy()
    moved[0, 1] = 0.3
    thresholds = np.array([0.5, 0.2, 0.5, 0.5])  # class 1 is decided at 0.2: 0.1 -> 0.3 flips it
    assert parity.compare(ref, moved, threshold=thresholds).label_flips == [(0, 1)]
    assert parity.tolerance_for("an-unknown-finetune") == parity.DEFAULT_TOLERANCE
    assert set(parity.TOLERANCES) >= {"PP-LCNet_x1_0_ML", "PP-HGNetV2-B6_ML", "pyml-demo-digits_ML"}
    with pytest.raises(ValueError, match="shapes differ"):
        parity.compare(ref, ref[:1])
