"""int8: `pyml quantize` on the demo model meets the agreement bar on 1,000 held-out
pictures, `precision: int8` loads what it wrote, and int8 without a quantized model is a
clear error naming the command."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

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
    # the report times the model alone on this CPU: fp32, int8, and bf16 where the CPU has it
    from pyml.backends.openvino import _import_openvino, cpu_has_bf16

    has_bf16 = cpu_has_bf16(_import_openvino().Core())
    speed = report["images_per_second"]
    assert set(speed) == ({"fp32", "int8", "bf16"} if has_bf16 else {"fp32", "int8"}), speed
    assert all(rate > 0 for rate in speed.values())
    assert (report["bf16_label_sets_equal"] is not None) == has_bf16
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


def test_the_report_says_when_int8_buys_no_speed_here():
    from pyml.backends.quantize import QuantizeReport

    def lines(speed, bf16_equal=None):
        report = QuantizeReport("m", "m/int8.xml", 300, "abc", "fp32", 200, 0.995, 0.1, 0.01, 3.0)
        report.images_per_second, report.bf16_label_sets_equal = speed, bf16_equal
        return "\n".join(report.lines())

    assert "int8 1.50x fp32" in lines({"fp32": 100.0, "int8": 150.0})
    both = lines({"fp32": 100.0, "int8": 150.0, "bf16": 160.0}, bf16_equal=0.998)
    assert "bf16 for comparison: label sets equal to fp32's on 99.80%" in both and "prefer precision bf16" in both
    assert "prefer" not in lines({"fp32": 100.0, "int8": 150.0, "bf16": 160.0}, bf16_equal=0.99)  # fewer kept
    # bf16 better than int8 but itself under the bar: no advice to use it
    report = QuantizeReport("m", "m/int8.xml", 300, "abc", "fp32", 200, 0.45, 0.9, 0.04, 3.0)
    report.images_per_second, report.bf16_label_sets_equal = {"fp32": 60.0, "int8": 67.0, "bf16": 130.0}, 0.74
    text = "\n".join(report.lines())
    assert "prefer" not in text and "neither is safe for this model" in text
    assert "prefer" not in lines({"fp32": 100.0, "int8": 150.0, "bf16": 120.0}, bf16_equal=0.998)  # slower
    assert "buys no speed" in lines({"fp32": 100.0, "int8": 95.0})
    assert "buys no speed" not in lines({"fp32": 100.0, "int8": 150.0})
    assert "images/s" not in lines({})  # reports saved before speeds were measured


def test_an_unreadable_calibration_picture_is_left_out_with_a_warning(tmp_path):
    pictures = write_dataset(tmp_path / "pictures", {"train": 12}, seed=3, pictures="test") / "images"
    (pictures / "train_00003.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "quantize", str(demo_model_dir()), "--calibration", str(pictures), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")},
        timeout=600,
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    warned = [line for line in run.stderr.splitlines() if "do not decode" in line]
    assert len(warned) == 1 and "left out 1 picture(s)" in warned[0] and "train_00003.jpg" in warned[0], run.stderr
    collection = [line for line in run.stderr.splitlines() if "Statistics collection" in line]
    assert collection and all("100%" in line for line in collection), run.stderr  # never stopped halfway
    report = json.loads(run.stdout)
    assert report["calibration_images"] + report["held_out_images"] == 11
    assert report["skipped_images"] == [f"{pictures / 'train_00003.jpg'}: truncated JPEG"] or (
        len(report["skipped_images"]) == 1 and "train_00003.jpg" in report["skipped_images"][0]
    )
    # 11 pictures hold 5 out: too few to judge by, so the report says so and does not call it safe
    assert report["held_out_images"] == 5 and not report["judged"] and not report["safe"]


def test_too_few_held_out_pictures_are_no_verdict():
    from pyml.backends.quantize import MIN_HELD_OUT, QuantizeReport

    report = QuantizeReport("m", "m/int8.xml", 7, "abc", "fp32", 1, 1.0, 0.01, 0.001, 3.0)
    assert not report.judged and not report.safe
    warning = [line for line in report.lines() if line.startswith("WARNING")]
    assert len(warning) == 1 and f"at least {MIN_HELD_OUT} are needed" in warning[0]
    report.held_out_images = MIN_HELD_OUT
    assert report.judged and report.safe and not any(line.startswith("WARNING") for line in report.lines())


@pytest.mark.parametrize("count, calibrate, held", [(8, 4, 4), (30, 15, 15), (100, 50, 50), (400, 300, 100)])
def test_the_split_holds_out_enough_to_judge_by(count, calibrate, held):
    from pyml.backends.quantize import split_pictures

    pictures = [Path(f"p{i}.jpg") for i in range(count)]
    calibration, held_out = split_pictures(pictures, 300)
    assert (len(calibration), len(held_out)) == (calibrate, held)
    assert sorted(calibration + held_out) == sorted(pictures)


def test_a_calibration_path_that_does_not_exist_is_exit_2(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "quantize", str(demo_model_dir()), "--calibration", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        run.returncode == 2
        and run.stderr.strip() == f"pyml: error: --calibration {tmp_path / 'nope'}: no such file or folder"
    )


def test_quantize_shows_progress_on_a_terminal(tmp_path):
    from terminal import run_on_terminal

    pictures = write_dataset(tmp_path / "pictures", {"train": 30}, seed=4, pictures="test") / "images"
    env = {**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")}
    seen = run_on_terminal("-m", "pyml", "quantize", str(demo_model_dir()), "--calibration", str(pictures), env=env)
    # the held-out pictures are judged with a bar (its description and a count of 15 of 15),
    # then the report follows
    assert "judging int8 against fp32" in seen and "15/15" in seen, seen[-2000:]
    assert "held-out pictures: 15; label sets equal to fp32's on" in seen, seen[-2000:]
