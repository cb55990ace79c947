"""Opt-in: PaddleX's own predictor against pyml on the same export and images.

Runs only with PYML_PADDLEX_PARITY=1 and paddlex (3.7.x) importable, e.g. in a
virtual environment made with --system-site-packages and `pip install paddlex==3.7.2`.
"""

import os

import images
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("PYML_PADDLEX_PARITY") != "1", reason="set PYML_PADDLEX_PARITY=1 (and install paddlex 3.7.x) to run"
)


def test_paddlex_create_model_gives_the_same_labels_and_scores(lcnet_pipeline, lcnet_export, photos, tmp_path):
    os.environ["PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK"] = "True"
    paddlex = pytest.importorskip("paddlex")
    paths = []
    for name, rgb in photos.items():
        for size in (None, (1600, 1200)):
            import cv2

            img = rgb if size is None else cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
            path = tmp_path / f"{name}_{img.shape[1]}.jpg"
            path.write_bytes(images.jpeg(img))
            paths.append(str(path))
    model = paddlex.create_model(model_name="PP-LCNet_x1_0_ML", model_dir=str(lcnet_export), device="cpu")
    theirs = list(model.predict(paths, batch_size=1, threshold=0.5))  # float threshold: no batch-position bug
    ours = list(lcnet_pipeline.predict(paths, threshold=0.5))
    worst = 0.0
    for t, o in zip(theirs, ours):
        assert [int(i) for i in t["class_ids"]] == o.class_ids, o.input_path
        assert list(t["label_names"]) == o.label_names
        if o.scores:
            worst = max(worst, float(np.max(np.abs(np.asarray(t["scores"]) - np.asarray(o.scores)))))
    assert worst <= 1e-4, worst
    print(f"PaddleX parity: {len(paths)} images, identical labels, max |score diff| {worst:.2e}")
