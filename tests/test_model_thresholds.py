"""A model's own thresholds (its inference.yml, per class as `pyml train --calibrate f1`
writes them) apply through every door unless a threshold is set explicitly: the command
line with a built-in pipeline name and --model_dir, create_model(model_dir=),
create_pipeline(name, model_dir=), a YAML naming the export, pyml serve over gRPC and
HTTP, and pyml batch. An explicit threshold still wins."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pyml
from pyml.models import demo_model_dir
from pyml.train.calibrate import write_thresholds

DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
# one threshold per class, none of them 0.5
THRESHOLDS = np.array([0.05 + 0.09 * c for c in range(10)])


def labels_at(scores: np.ndarray, thresholds) -> list[list[int]]:
    """class ids over the thresholds (strict >), by score high to low, per picture."""
    t = np.broadcast_to(np.asarray(thresholds, np.float64), scores.shape[-1:])
    return [sorted(np.nonzero(row > t)[0].tolist(), key=lambda c: (-row[c], c)) for row in scores]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """(a copy of the demo model with per-class thresholds, a YAML naming it, the expected
    class ids at its thresholds, and at 0.5)."""
    folder = tmp_path_factory.mktemp("calibrated")
    model = folder / "best_model" / "inference"
    shutil.copytree(demo_model_dir(), model)
    write_thresholds(model, THRESHOLDS)
    scores = np.stack([r.all_scores for r in pyml.create_pipeline()(DEMO_IMAGES)])
    expected, at_half = labels_at(scores, THRESHOLDS), labels_at(scores, 0.5)
    assert expected != at_half  # the thresholds change the answers on these pictures
    yaml = folder / "calibrated.yaml"
    yaml.write_text(
        "pipeline_name: image_multilabel_classification\n"
        "SubModules:\n  ImageMultiLabelClassification:\n"
        f"    module_name: image_multilabel_classification\n    model_name: pyml-demo-digits_ML\n"
        f"    model_dir: {model}\n    batch_size: 4\n"
    )
    return model, yaml, expected, at_half


def _ids(results) -> list[list[int]]:
    return [list(r["class_ids"]) for r in results]


def test_the_python_doors_apply_the_models_thresholds(calibrated):
    model, yaml, expected, at_half = calibrated
    assert _ids(pyml.create_model(model_dir=model).predict(DEMO_IMAGES)) == expected
    named = pyml.create_pipeline("image_multilabel_classification", model_dir=str(model))
    assert _ids(named.predict(DEMO_IMAGES)) == expected
    assert _ids(pyml.create_pipeline(str(yaml)).predict(DEMO_IMAGES)) == expected
    # explicit thresholds win: the call's, the constructor's
    assert _ids(named.predict(DEMO_IMAGES, threshold=0.5)) == at_half
    assert _ids(pyml.create_model(model_dir=model, threshold=0.5).predict(DEMO_IMAGES)) == at_half


def test_a_threshold_written_into_the_yaml_wins(calibrated, tmp_path):
    _, yaml, _, at_half = calibrated
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(yaml.read_text() + "    threshold: 0.5\n")
    assert _ids(pyml.create_pipeline(str(explicit)).predict(DEMO_IMAGES)) == at_half


def _cli(*args):
    run = subprocess.run([sys.executable, "-m", "pyml.cli", *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return [ast.literal_eval(line) for line in run.stdout.splitlines()]


def test_the_command_line_with_a_builtin_name_and_model_dir(calibrated):
    model, _, expected, at_half = calibrated
    base = ["--pipeline", "image_multilabel_classification", "--model_dir", str(model), "--input", *DEMO_IMAGES[:1]]
    assert _ids(_cli(*base)) == expected[:1]
    folder = str(demo_model_dir().parent / "images")
    rows = _cli("--pipeline", "image_multilabel_classification", "--model_dir", str(model), "--input", folder)
    assert _ids(rows) == expected
    assert _ids(_cli(*base, "--threshold", "0.5")) == at_half[:1]


def test_pyml_batch_applies_the_models_thresholds(calibrated, tmp_path):
    _, yaml, expected, _ = calibrated
    out = tmp_path / "rows.jsonl"
    folder = str(demo_model_dir().parent / "images")
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "batch", folder, "--pipeline", str(yaml), "--output", str(out),
         "--no_progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = sorted(map(json.loads, out.read_text().splitlines()), key=lambda r: r["img_path"])
    assert _ids(rows) == expected


def test_pyml_batch_and_serve_take_model_dir_as_the_command_line_does(calibrated, tmp_path):
    from serving.test_http_serving import HttpServer, b64

    model, _, expected, _ = calibrated
    out = tmp_path / "rows.jsonl"
    folder = str(demo_model_dir().parent / "images")
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "batch", folder, "--model_dir", str(model), "--output", str(out),
         "--no_progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0 and "offline demo" not in run.stderr, run.stderr
    rows = sorted(map(json.loads, out.read_text().splitlines()), key=lambda r: r["img_path"])
    assert _ids(rows) == expected
    server = HttpServer("--model_dir", str(model), pipelines=())
    try:
        status, answer = server.infer(image=b64(DEMO_IMAGES[0]), visualize=False)
        assert status == 200 and [c["id"] for c in answer["result"]["categories"]] == expected[0]
    finally:
        server.stop()
    two = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "serve", "--pipeline", "a=pyml_demo", "--pipeline", "b=pyml_demo",
         "--model_dir", str(model)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert two.returncode == 2 and "give at most one --pipeline with it" in two.stderr


def test_pyml_serve_applies_them_over_grpc_and_http(calibrated):
    from serving.test_http_serving import HttpServer, b64

    from pyml.serving.client import Client

    _, yaml, expected, at_half = calibrated
    server = HttpServer(pipelines=(f"calibrated={yaml}",))
    try:
        with Client(f"127.0.0.1:{server.grpc_port}", timeout=60) as client:
            assert _ids(client.classify(DEMO_IMAGES)) == expected
            assert _ids(client.classify(DEMO_IMAGES, threshold=0.5)) == at_half
            assert _ids(client.classify_stream(DEMO_IMAGES)) == expected
        for image, ids in zip(DEMO_IMAGES, expected):
            status, answer = server.infer(image=b64(image), visualize=False, returnAllScores=True)
            assert status == 200
            assert [c["id"] for c in answer["result"]["categories"]] == ids
            assert answer["result"]["thresholds"] == pytest.approx(THRESHOLDS.tolist(), abs=1e-6)
    finally:
        server.stop()


def test_get_pipeline_config_leaves_the_threshold_to_the_model(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--get_pipeline_config", "image_multilabel_classification",
         "--save_path", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    from pyml.pipeline_yaml import load_pipeline_config

    written = load_pipeline_config(tmp_path / "image_multilabel_classification.yaml")
    assert written.threshold is None  # the model's own: 0.5 for official models, calibrated ones for yours
