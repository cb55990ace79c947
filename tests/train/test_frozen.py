"""--freeze backbone and --cache_features: the backbone untouched, the head learning, the
cache giving what an uncached run without augmentation gives."""

import json

import numpy as np
import pytest
from train.training_helpers import SMALL, options

import pyml
from pyml.models import demo_model_dir
from pyml.train.trainer import Trainer


def test_a_frozen_backbone_changes_no_backbone_tensor_and_the_loss_falls(pairs, tmp_path):
    import paddle

    from pyml.train.frozen import head_name
    from pyml.train.networks import build_network
    from pyml.train.weights import inference_state

    out = tmp_path / "frozen"
    history = Trainer(
        pairs, options(out, from_dir=str(demo_model_dir()), freeze="backbone", epochs=3, lr=1e-2, steps_per_epoch=None)
    ).run(progress=False)
    losses = [e["loss"] for e in history.epochs]
    assert losses[-1] < losses[0], losses
    start = inference_state(demo_model_dir(), build_network(SMALL, 10))
    after = paddle.load(str(out / "checkpoints" / "epoch_3" / "model.pdparams"))
    head = head_name(SMALL, build_network(SMALL, 3)) + "."
    backbone = [k for k in after if not k.startswith(head)]
    assert len(backbone) > 10 and all(not k.startswith(head) for k in backbone)
    for name in backbone:  # weights and batch norm statistics alike
        np.testing.assert_array_equal(after[name].numpy(), np.asarray(start[name]), err_msg=name)
    assert not np.array_equal(after[head + "weight"].numpy(), np.zeros_like(after[head + "weight"].numpy()))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["freeze"] == "backbone" and 0 < metrics["best_val_mAP"] <= 1
    model = pyml.create_model(model_dir=out / "best_model" / "inference")  # the whole network, exported
    assert model.labels == pairs.labels


def test_cached_features_train_the_head_as_an_uncached_run_without_augmentation(pairs, tmp_path):
    import paddle

    frozen = dict(from_dir=str(demo_model_dir()), freeze="backbone", augment="none", epochs=2, lr=1e-2)
    Trainer(pairs, options(tmp_path / "plain", **frozen)).run(progress=False)
    Trainer(pairs, options(tmp_path / "cached", cache_features=True, **frozen)).run(progress=False)
    cache = list((tmp_path / "cached" / "feature_cache").glob("*/features.npy"))
    assert len(cache) == 1 and np.load(cache[0], mmap_mode="r").dtype == np.float16
    a = paddle.load(str(tmp_path / "plain" / "checkpoints" / "epoch_2" / "model.pdparams"))
    b = paddle.load(str(tmp_path / "cached" / "checkpoints" / "epoch_2" / "model.pdparams"))
    for name in a:
        np.testing.assert_allclose(a[name].numpy(), b[name].numpy(), atol=1e-6, rtol=0, err_msg=name)
    # A second run on the same images reads the cache instead of writing another.
    Trainer(pairs, options(tmp_path / "cached2", cache_features=True, **frozen)).run(progress=False)
    assert len(list((tmp_path / "cached2" / "feature_cache").glob("*/features.npy"))) == 1


def test_cache_features_needs_a_frozen_backbone(pairs, tmp_path):
    with pytest.raises(pyml.ConfigError, match="--cache_features needs --freeze backbone"):
        Trainer(pairs, options(tmp_path / "out", cache_features=True))


# -- --calibrate f1 ----------------------------------------------------------------------
