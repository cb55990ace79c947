"""The embedded demo model: loads from the package and labels held-out pictures right."""

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

import pyml
from pyml.models import demo_model_dir
from tools.demo_data import LABELS, draw_batch, load_splits

IMAGES = demo_model_dir().parent / "images"


def test_demo_model_on_held_out_pictures():
    # Fresh pictures from the test split's handwriting (a seed the training never used).
    images, truth = draw_batch(load_splits()["test"], np.random.default_rng(4242), 300)
    pipeline = pyml.create_pipeline("pyml_demo", batch_size=32)
    results = list(pipeline.predict(images, threshold=0.0))
    scores = np.zeros(truth.shape)
    for i, r in enumerate(results):
        scores[i, r.class_ids] = r.scores
    mean_ap = np.mean([average_precision_score(truth[:, c], scores[:, c]) for c in range(len(LABELS))])
    exact = np.mean([set(np.nonzero(s > 0.5)[0]) == set(np.nonzero(t)[0]) for s, t in zip(scores, truth)])
    assert mean_ap >= 0.99, mean_ap  # measured 0.9979 on 2,000 test pictures at training time
    assert exact >= 0.9, exact  # measured 0.918 on 500


def test_demo_model_labels_its_shipped_samples():
    expected = json.loads((IMAGES / "labels.json").read_text())
    assert len(expected) >= 5
    pipeline = pyml.create_pipeline("pyml_demo")
    assert pipeline.model.model_name == "pyml-demo-digits_ML"
    results = list(pipeline.predict(str(IMAGES)))
    assert [Path(r.input_path).name for r in results] == sorted(expected)
    true_positives = predicted = actual = 0
    for result in results:
        truth = set(expected[Path(result.input_path).name])
        true_positives += len(truth & set(result.label_names))
        predicted += len(result.label_names)
        actual += len(truth)
    # All 21 labels are found today; one miss (a badly written digit) would still pass.
    assert true_positives == predicted, "a label that is not on the picture"
    assert true_positives / actual >= 0.9


def test_demo_model_is_small_and_in_paddlex_layout():
    files = {p.name: p.stat().st_size for p in demo_model_dir().iterdir()}
    paddlex = {"inference.json", "inference.pdiparams", "inference.yml"}
    assert set(files) == paddlex | {"inference.onnx", "inference.onnx.sha256"}
    assert sum(files.values()) < 8 * 1024 * 1024


def test_the_shipped_onnx_file_is_the_models_and_gives_paddles_answers():
    """A plain install runs the demo from its ONNX file with no Paddle to check it against:
    the check is made here, where Paddle is."""
    from pyml.backends import create_backend, parse_device
    from pyml.backends.onnx_convert import find_onnx, model_hash
    from pyml.backends.parity import compare
    from pyml.inputs import iter_sources

    model = demo_model_dir()
    graph, params = model / "inference.json", model / "inference.pdiparams"
    assert (model / "inference.onnx.sha256").read_text().strip() == model_hash(graph, params), (
        "the demo model changed without its ONNX file: python -m pyml.cli convert --force pyml/demo/model"
    )
    assert find_onnx(graph, params) == model / "inference.onnx"
    pipeline = pyml.create_pipeline("pyml_demo", backend="paddle")
    batch = pipeline.prepare(list(iter_sources(str(IMAGES)))).tensor
    cpu = parse_device("cpu")
    reference = create_backend("paddle", graph, params, cpu)(batch)
    report = compare(reference, create_backend("onnxruntime", graph, params, cpu)(batch), "pyml-demo-digits_ML")
    assert report.ok, report.describe("onnxruntime")
