"""Training runs: learning (and being told when it does not), export, resume, Ctrl-C,
--from, pretrained weights, PaddleX's architectures, patience, on the demo task."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from train.training_helpers import SMALL, options, relabel, run_cli

import pyml
from pyml.models import demo_model_dir
from pyml.train import read_dataset
from pyml.train.trainer import Trainer
from tools.demo_data import write_dataset


@pytest.mark.slow
def test_a_run_that_learns_nothing_is_told_so_once_and_metrics_record_it(digits, tmp_path, capsys):
    from sklearn.metrics import average_precision_score

    from pyml.train.learning import EPOCHS_TO_WARN

    dataset = read_dataset(digits)
    out = tmp_path / "diverged"
    history = Trainer(dataset, options(out, epochs=3, lr=10.0)).run(progress=False)  # far too high
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "the model is not learning" in line]
    assert len(warnings) == 1, err
    assert "--lr 10" in warnings[0] and "pretrained start" in warnings[0]
    # told after EPOCHS_TO_WARN validations, between epoch lines
    lines = err.splitlines()
    assert lines[lines.index(warnings[0]) - 1].startswith(f"epoch {EPOCHS_TO_WARN}/3")
    metrics = json.loads((out / "metrics.json").read_text())
    frequencies = dataset.targets("train").mean(axis=0)
    val = dataset.targets("val")
    expected = np.mean(
        [average_precision_score(val[:, c], np.full(len(val), frequencies[c])) for c in range(val.shape[1])]
    )
    assert metrics["baseline_val_mAP"] == pytest.approx(expected, abs=1e-6)
    assert metrics["not_learning"]["since_epoch"] == 1 and metrics["not_learning"]["at_baseline"]
    assert all("val_score_spread" in e for e in metrics["epochs"])
    assert history.not_learning == metrics["not_learning"]


@pytest.mark.slow
def test_a_run_that_learns_is_not_warned(trained):
    out, history = trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["not_learning"] is None and history.not_learning is None
    assert metrics["best_val_mAP"] > metrics["baseline_val_mAP"] + 0.02
    assert min(e["val_score_spread"] for e in metrics["epochs"]) > 0.01


@pytest.mark.slow
def test_a_few_steps_lower_the_loss_and_everything_is_written(trained):
    out, history = trained
    losses = [e["loss"] for e in history.epochs]
    assert losses[-1] < losses[0], losses
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    assert metrics["best_epoch"] == history.best_epoch and 0 < metrics["best_val_mAP"] <= 1
    assert set(metrics["epochs"][0]["val"]["AP"]) == set(metrics["labels"])
    assert (out / "training_curve.png").stat().st_size > 1000
    assert (out / "checkpoints" / "latest").read_text() == "epoch_3"


def test_the_export_loads_and_equals_the_training_graph(trained, digits):
    import paddle

    from pyml.train.data import preprocessor_for
    from pyml.train.networks import build_network

    out, _ = trained
    model_dir = out / "best_model" / "inference"
    model = pyml.create_model(model_dir=model_dir)  # loads unchanged
    assert model.labels == read_dataset(digits).labels
    samples = read_dataset(digits).splits["val"][:12]
    served = np.stack([r.all_scores for r in model.predict([str(s.path) for s in samples])])
    network = build_network(SMALL, 10)
    network.set_state_dict(paddle.load(str(out / "best_model" / "best_model.pdparams")))
    network.eval()
    tensor = preprocessor_for(64).run([s.path.read_bytes() for s in samples])
    with paddle.no_grad():
        direct = paddle.nn.functional.sigmoid(network(paddle.to_tensor(tensor))).numpy()
    np.testing.assert_allclose(served, direct, atol=1e-5, rtol=0)
    run = run_cli("--pipeline", "pyml_demo", "--input", str(samples[0].path))
    assert run.returncode == 0


def test_eval_prints_what_the_training_measured(trained, digits):
    out, history = trained
    run = run_cli("eval", str(out / "best_model" / "inference"), str(digits))
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith("mAP ") and abs(float(first.split()[1]) - history.best_map) < 2e-4, first


@pytest.mark.slow
def test_resume_gives_the_weights_of_an_uninterrupted_run(digits, tmp_path):
    import paddle

    dataset = read_dataset(digits)
    straight = tmp_path / "straight"
    Trainer(dataset, options(straight, epochs=2)).run(progress=False)
    halves = tmp_path / "halves"
    Trainer(dataset, options(halves, epochs=2)).run(progress=False, stop_after=1)  # as if killed
    with pytest.raises(pyml.ConfigError, match="--resume"):
        Trainer(dataset, options(halves, epochs=2))
    Trainer(dataset, options(halves, epochs=0), resume=True).run(progress=False)  # 0: the first run's
    a = paddle.load(str(straight / "checkpoints" / "epoch_2" / "model.pdparams"))
    b = paddle.load(str(halves / "checkpoints" / "epoch_2" / "model.pdparams"))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name].numpy(), b[name].numpy(), atol=1e-6, rtol=0, err_msg=name)
    ma = json.loads((straight / "metrics.json").read_text())["epochs"]
    mb = json.loads((halves / "metrics.json").read_text())["epochs"]
    assert [e["loss"] for e in ma] == pytest.approx([e["loss"] for e in mb], abs=1e-6)


@pytest.mark.slow
def test_ctrl_c_leaves_a_usable_checkpoint(digits, tmp_path):
    out = tmp_path / "out"
    args = [
        sys.executable,
        "-m",
        "pyml.cli",
        "train",
        str(digits),
        "--model",
        SMALL,
        "--output",
        str(out),
        "--epochs",
        "50",
        "--batch_size",
        "32",
        "--lr",
        "3e-3",
        "--input_size",
        "64",
        "--quiet",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (out / "checkpoints" / "latest").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"training did not stop within 120 s of SIGINT: {err[-2000:]}")
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    done = int((out / "checkpoints" / "latest").read_text().split("_")[1])
    assert (out / "checkpoints" / f"epoch_{done}" / "model.pdparams").is_file()
    assert not list((out / "checkpoints").glob(".*partial"))
    pyml.create_model(model_dir=out / "best_model" / "inference")  # the best epoch so far is usable
    hint = err.split("Continue with: ")[1].split()
    assert hint[:2] == ["pyml", "train"] and "--model" not in hint
    changed = run_cli("train", str(digits), "--output", str(out), "--resume", "--lr", "0.5")
    assert changed.returncode == 2 and "--lr 0.5 differs from the run" in changed.stderr, changed.stderr
    # the hint's own command, as printed (no --model), with a longer run
    resumed = run_cli(*hint[1:], "--lr", "3e-3", "--epochs", str(done + 1), "--quiet")  # the same lr: fine
    assert resumed.returncode == 0, resumed.stderr
    assert f"epoch {done + 1}/{done + 1}: loss " in resumed.stderr  # --quiet hides the bar, not the epoch line
    assert (out / "checkpoints" / "latest").read_text() == f"epoch_{done + 1}"


@pytest.mark.slow
def test_from_the_demo_model_beats_scratch_on_a_new_label_set(tmp_path):
    # Labels with priors well under 1/2, so that mAP measures what was learnt, not the prior.
    names = ["has a zero or a one", "has an eight or a nine", "has four digits"]
    dataset = read_dataset(
        write_dataset(tmp_path / "pairs", {"train": 192, "val": 128}, seed=11, label_names=names, relabel=relabel)
    )
    budget = dict(epochs=2, steps_per_epoch=6, lr=1e-3)
    scratch = Trainer(dataset, options(tmp_path / "scratch", **budget)).run(progress=False)
    tuned = Trainer(dataset, options(tmp_path / "tuned", from_dir=str(demo_model_dir()), **budget)).run(progress=False)
    print(f"val mAP after the same budget: --from the demo {tuned.best_map:.3f}, scratch {scratch.best_map:.3f}")
    assert tuned.best_map > scratch.best_map + 0.05, (tuned.best_map, scratch.best_map)
    model = pyml.create_model(model_dir=tmp_path / "tuned" / "best_model" / "inference")
    assert model.labels == names


def test_from_reads_a_paddlex_export_exactly():
    """An export without pyml's training files (the shipped demo model) maps back onto its
    architecture tensor for tensor: the rebuilt network scores as the export does."""
    import paddle

    from pyml.train.data import preprocessor_for
    from pyml.train.networks import build_network
    from pyml.train.weights import inference_state, load_matching

    build_network(SMALL, 3)  # generated names must not depend on what was built before
    network = build_network(SMALL, 10)
    count, fresh = load_matching(network, inference_state(demo_model_dir(), network), "demo")
    assert fresh == [] and count == len(network.state_dict())
    network.eval()
    paths = sorted((demo_model_dir().parent / "images").glob("*.jpg"))
    with paddle.no_grad():
        direct = paddle.nn.functional.sigmoid(
            network(paddle.to_tensor(preprocessor_for(64).run([p.read_bytes() for p in paths])))
        ).numpy()
    served = np.stack([r.all_scores for r in pyml.create_model().predict([str(p) for p in paths])])
    np.testing.assert_allclose(direct, served, atol=1e-5, rtol=0)


def test_pretrained_weights_of_another_shape_are_refused(digits, tmp_path):
    import paddle

    weights = tmp_path / "other.pdparams"
    paddle.save({"nothing.weight": paddle.zeros([3, 3])}, str(weights))
    with pytest.raises(pyml.ConfigError, match="none of its 1 tensors fit"):
        Trainer(read_dataset(digits), options(tmp_path / "out", pretrained=str(weights))).run(progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["PP-LCNet_x1_0_ML", "PP-HGNetV2-B0_ML"])
def test_paddlex_architectures_train_and_export(digits, tmp_path, arch, capsys):
    """The paddleclas definitions with an ML-Decoder head for 10 classes, at a reduced input size."""
    out = tmp_path / "out"
    Trainer(
        read_dataset(digits), options(out, arch=arch, epochs=1, steps_per_epoch=2, batch_size=8, input_size=96, lr=1e-4)
    ).run(progress=False)
    model = pyml.create_model(model_dir=out / "best_model" / "inference")
    assert model.num_classes == 10 and model.model.model_name == arch
    # no --pretrained here: the run says it starts from random weights, and what to add
    assert f"warning: {arch} starts from random weights" in capsys.readouterr().err


def test_only_a_random_start_of_a_paddlex_architecture_is_warned_about(tmp_path):
    from pyml.train.trainer import random_start_warning

    def warning(**kw):
        return random_start_warning(options(tmp_path, **kw))

    assert "Start from --pretrained PP-LCNet_x1_0_ML" in warning(arch="PP-LCNet_x1_0_ML")
    assert "--freeze backbone keeps them random" in warning(arch="PP-LCNet_x1_0_ML", freeze="backbone")
    assert warning(arch="PP-LCNet_x1_0_ML", pretrained="weights.pdparams") is None
    assert warning(arch="PP-LCNet_x1_0_ML", from_dir=str(demo_model_dir())) is None
    assert warning(arch=SMALL) is None  # the demo network is made to learn from scratch


def test_gpu_training_is_a_clear_error_here(digits, tmp_path):
    import paddle

    if paddle.device.is_compiled_with_cuda():
        pytest.skip("this paddle has CUDA")
    run = run_cli("train", str(digits), "--model", SMALL, "--output", str(tmp_path / "o"), "--device", "gpu:0")
    assert run.returncode == 2 and "no CUDA support" in run.stderr, run.stderr


def test_environment_is_quiet_for_training(digits, tmp_path):
    run = run_cli(
        "train",
        str(digits),
        "--model",
        SMALL,
        "--output",
        str(tmp_path / "o"),
        "--epochs",
        "1",
        "--steps_per_epoch",
        "1",
        "--input_size",
        "64",
        "--quiet",
    )
    assert run.returncode == 0, run.stderr
    assert "Warning" not in run.stderr and "warn" not in run.stderr, run.stderr
    assert not re.search(r"^[IW]\d{4} ", run.stderr, re.MULTILINE), run.stderr  # paddle's glog lines
    assert os.path.isdir(tmp_path / "o" / "best_model" / "inference")


def test_the_training_curve_has_whole_epochs_on_its_axis(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pyml.train.report import History, plot_curve

    history = History()
    history.epochs = [{"epoch": e, "loss": 1.0 / e, "val": {"mAP": 0.3 * e}} for e in (1, 2, 3)]
    history.best_epoch, history.best_map = 3, 0.9
    seen = {}
    original = plt.Figure.savefig

    def keep_ticks(fig, *args, **kwargs):
        seen["ticks"] = list(fig.axes[0].get_xticks())
        return original(fig, *args, **kwargs)

    plt.Figure.savefig = keep_ticks
    try:
        plot_curve(history, tmp_path / "curve.png")
    finally:
        plt.Figure.savefig = original
    assert (tmp_path / "curve.png").stat().st_size > 0
    assert seen["ticks"] and all(float(t).is_integer() for t in seen["ticks"]), seen["ticks"]


def test_pretrained_by_name_fetches_paddlex_weights_and_remaps_the_head(digits, tmp_path, monkeypatch):
    """--pretrained PP-LCNet_x1_0_ML: PaddleX's <NAME>_pretrained.pdparams from the mirror
    (here loopback), backbone loaded, the 80-class head left fresh for these 10 classes."""
    from mirror import Mirror

    from pyml.backends.paddle import import_paddle
    from pyml.train.networks import build_network

    paddle = import_paddle()
    name = "PP-LCNet_x1_0_ML"
    weights = tmp_path / "w.pdparams"
    paddle.save(build_network(name, 80).state_dict(), str(weights))
    mirror = Mirror()
    mirror.files[f"/official_pretrained_model/{name}_pretrained.pdparams"] = weights.read_bytes()
    monkeypatch.setenv("PYML_MODEL_MIRROR", mirror.url)
    monkeypatch.setenv("PADDLE_PDX_CACHE_HOME", str(tmp_path / "paddlex"))
    try:
        trainer = Trainer(read_dataset(digits), options(tmp_path / "out", arch=name, pretrained=name, input_size=64))
        _, notes = trainer._build()
    finally:
        mirror.stop()
    fetched = tmp_path / "paddlex" / "official_pretrained" / f"{name}_pretrained.pdparams"
    assert fetched.read_bytes() == weights.read_bytes()
    loaded, fresh = notes[0].split(" tensors from ")[0], notes[0].split("; ")[1]
    assert str(fetched) in notes[0] and int(loaded) > 50 and not fresh.startswith("0 ")  # the head is new


def test_from_needs_no_model_for_a_pyml_or_a_paddlex_export(pairs, tmp_path):
    from pyml.train.networks import architecture_of

    assert architecture_of(demo_model_dir()) == SMALL  # PaddleX layout, known by Global.model_name
    paddlex_like = tmp_path / "lcnet"
    shutil.copytree(demo_model_dir(), paddlex_like)  # a whole model folder, renamed as PaddleX names it
    yml = paddlex_like / "inference.yml"
    yml.write_text(yml.read_text().replace("pyml-demo-digits_ML", "PP-LCNet_x1_0_ML"))
    assert architecture_of(paddlex_like) == "PP-LCNet_x1_0_ML"
    yml.write_text(yml.read_text().replace("PP-LCNet_x1_0_ML", "PP-YOLOE"))
    with pytest.raises(pyml.ConfigError, match="pass --model"):
        architecture_of(paddlex_like)
    first = tmp_path / "first"
    run = run_cli(
        "train",
        str(pairs.root),
        "--from",
        str(demo_model_dir()),
        "--output",
        str(first),
        "--epochs",
        "1",
        "--batch_size",
        "32",
        "--input_size",
        "64",
        "--steps_per_epoch",
        "2",
        "--model_name",
        "my-pairs",
        "--quiet",
    )
    assert run.returncode == 0, run.stderr
    export = first / "best_model" / "inference"
    assert architecture_of(export) == SMALL  # recorded, although the model has its own name
    lines = run.stdout.splitlines()
    assert lines[0].startswith("best val mAP ") and str(export) in lines[0]
    report = first / "eval_report.html"  # the best model's evaluation page, named in the last lines
    assert report.is_file() and any(line.startswith(f"report: {report} ") for line in lines), lines
    use = lines[-1].removeprefix("use it: ").split()
    assert use[:3] == ["pyml", "--pipeline", "image_multilabel_classification"] and str(export) in use
    sample = pairs.splits["val"][0].path
    predicted = subprocess.run(
        [sys.executable, "-m", "pyml.cli", *use[1:-1], str(sample)], capture_output=True, text=True, timeout=300
    )
    assert predicted.returncode == 0 and "has a zero or a one" in predicted.stdout + str(pairs.labels), predicted.stderr
    second = run_cli(
        "train",
        str(pairs.root),
        "--from",
        str(export),
        "--output",
        str(tmp_path / "second"),
        "--epochs",
        "1",
        "--batch_size",
        "32",
        "--steps_per_epoch",
        "2",
        "--quiet",
    )
    assert second.returncode == 0, second.stderr


def test_patience_stops_when_val_map_stops_improving(pairs, tmp_path):
    out = tmp_path / "patient"
    # A frozen backbone and a vanishing learning rate: val mAP stays the same from epoch 1 on.
    history = Trainer(
        pairs, options(out, from_dir=str(demo_model_dir()), freeze="backbone", epochs=6, lr=1e-12, patience=1)
    ).run(progress=False)
    assert [e["epoch"] for e in history.epochs] == [1, 2] and history.stopped_early
    assert json.loads((out / "metrics.json").read_text())["stopped_early"] is True
    assert history.best_epoch == 1


def test_label_txt_categories_travel_into_the_export_and_filter(digits, tmp_path):
    data = tmp_path / "ds"
    shutil.copytree(digits, data)
    lines = (data / "label.txt").read_text().splitlines()
    (data / "label.txt").write_text(
        "\n".join(f"{line}\t{'even' if int(line.split()[0]) % 2 == 0 else 'odd'}" for line in lines) + "\n"
    )
    out = tmp_path / "out"
    Trainer(read_dataset(data), options(out, epochs=1, steps_per_epoch=1)).run(progress=False)
    model = out / "best_model" / "inference"
    pipeline = pyml.create_pipeline(model_dir=str(model), include_categories="odd")
    assert pipeline.categories == ["even" if c % 2 == 0 else "odd" for c in range(10)]
    (result,) = pipeline.predict(str(demo_model_dir().parent / "images" / "digits_01.jpg"), threshold=0.0)
    assert sorted(result.class_ids) == [1, 3, 5, 7, 9] and set(result.categories) == {"odd"}
