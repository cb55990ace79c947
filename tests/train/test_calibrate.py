"""Per-class thresholds calibrated on val (--calibrate f1, pyml eval --calibrate): written,
applied by every door, never worse than the one threshold."""

import json
import shutil

import numpy as np
import pytest
from train.training_helpers import options, run_cli, yaml_threshold

import pyml
from pyml.models import demo_model_dir
from pyml.train.trainer import Trainer
from tools.demo_data import write_dataset


def test_calibrated_thresholds_are_written_applied_and_no_worse(pairs, tmp_path):
    from pyml.train.calibrate import f1_report

    out = tmp_path / "calibrated"
    history = Trainer(
        pairs, options(out, from_dir=str(demo_model_dir()), freeze="backbone", epochs=2, lr=1e-2, calibrate="f1")
    ).run(progress=False)
    report = json.loads((out / "metrics.json").read_text())["calibration"]
    assert report == history.calibration
    assert report["calibrated"]["macro_f1"] >= report["at_global"]["macro_f1"]
    model_dir = out / "best_model" / "inference"
    written = yaml_threshold(model_dir)
    assert isinstance(written, list) and len(written) == 3 and written != [0.5] * 3
    model = pyml.create_model(model_dir=model_dir)
    samples = pairs.splits["val"]
    results = model.predict([str(s.path) for s in samples])
    scores = np.stack([r.all_scores for r in results])
    for r, row in zip(results, scores):  # pyml applies the per-class thresholds
        assert sorted(r["class_ids"]) == [c for c in range(3) if row[c] > written[c]]
    ours = f1_report(pairs.targets("val"), scores, np.array(written))
    assert ours.macro == pytest.approx(report["calibrated"]["macro_f1"], abs=1e-3)
    assert (out / "training_curve.png").stat().st_size > 1000


def test_eval_calibrate_reports_and_writes_only_when_asked(pairs, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(demo_model_dir(), model_dir)
    digits10 = write_dataset(tmp_path / "digits", {"train": 16, "val": 96}, seed=5)
    run = run_cli("eval", str(model_dir), str(digits10), "--calibrate", "f1")
    assert run.returncode == 0, run.stderr
    before, after = [line for line in run.stdout.splitlines() if line.startswith("F1 ")]
    assert float(after.split("macro ")[1].split(",")[0]) >= float(before.split("macro ")[1].split(",")[0])
    assert yaml_threshold(model_dir) == 0.5 and "add --write" in run.stdout
    run = run_cli("eval", str(model_dir), str(digits10), "--calibrate", "f1", "--write")
    assert run.returncode == 0, run.stderr
    assert len(yaml_threshold(model_dir)) == 10
    pyml.create_model(model_dir=model_dir)  # still a valid model directory
    refused = run_cli("eval", str(model_dir), str(digits10), "--write")
    assert refused.returncode == 2 and "--calibrate f1" in refused.stderr


def test_best_f1_threshold_cuts_between_scores_and_beats_any_other_cut():
    from pyml.train.calibrate import best_f1_threshold, f1_report

    rng = np.random.default_rng(3)
    positive = rng.random(200) < 0.1
    scores = np.clip(rng.normal(0.3 + 0.2 * positive, 0.15), 0, 1).astype(np.float32)
    t = best_f1_threshold(positive, scores, 0.5)
    assert not np.any(scores == t)
    best = f1_report(positive[:, None], scores[:, None], t).macro
    for cut in np.linspace(0, 1, 101):
        assert f1_report(positive[:, None], scores[:, None], cut).macro <= best + 1e-12
    assert best_f1_threshold(np.zeros(5, bool), scores[:5], 0.42) == 0.42  # no positives: the global one


# -- --from without --model, --patience, the summary -------------------------------------
