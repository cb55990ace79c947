"""Fine-tuning: dataset checks, COCO conversion, training, resume, Ctrl-C, --from, export
and evaluation, on small datasets of the demo task that the tests write."""

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

import pyml
from pyml.models import demo_model_dir
from pyml.train import DatasetError, read_dataset
from pyml.train.options import TrainOptions
from pyml.train.trainer import Trainer
from tools.demo_data import write_dataset

SMALL = "pyml-small-convnet"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The demo task: 256 train and 64 val pictures, labels = which digits are on them."""
    return write_dataset(tmp_path_factory.mktemp("digits"), {"train": 256, "val": 64}, seed=7)


def options(out, **changes) -> TrainOptions:
    base = dict(
        arch=SMALL,
        output=str(out),
        epochs=2,
        batch_size=32,
        lr=3e-3,
        warmup_epochs=0,
        augment="color",
        input_size=64,
        steps_per_epoch=4,
    )
    return TrainOptions(**{**base, **changes})


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "pyml.cli", *args], capture_output=True, text=True, timeout=timeout)


# -- the dataset -----------------------------------------------------------------


def test_a_good_dataset_reads_and_counts(digits):
    dataset = read_dataset(digits)
    assert dataset.num_classes == 10 and len(dataset.splits["train"]) == 256
    run = run_cli("check_dataset", str(digits))
    assert run.returncode == 0, run.stderr
    counts = dataset.targets("val").sum(axis=0).astype(int)
    row = run.stdout.splitlines()[2 + 3]  # class 3
    assert row.split() == ["3", "three", str(int(dataset.targets("train")[:, 3].sum())), str(counts[3])]


def _copy(digits, tmp_path):
    target = tmp_path / "ds"
    shutil.copytree(digits, target)
    return target


def _edit_line(path, number, new_text):
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = new_text
    path.write_text("".join(lines))


BAD_DATASETS = {
    "missing image": (
        lambda d: (d / "images" / "train_00002.jpg").unlink(),
        "train.txt:3: image images/train_00002.jpg not found",
    ),
    "unreadable image": (
        lambda d: (d / "images" / "val_00004.jpg").write_text("not a picture"),
        "val.txt:5: image images/val_00004.jpg: not a decodable image (unknown or corrupt format)",
    ),
    "empty image": (  # the words `pyml --input` uses for the same file
        lambda d: (d / "images" / "val_00003.jpg").write_bytes(b""),
        "val.txt:4: image images/val_00003.jpg: empty input (0 bytes)",
    ),
    "wrong vector length": (
        lambda d: _edit_line(d / "train.txt", 7, "images/train_00006.jpg\t0,1,0\n"),
        "train.txt:7: 3 label values, but label.txt has 10 classes",
    ),
    "values other than 0/1": (
        lambda d: _edit_line(d / "val.txt", 2, "images/val_00001.jpg\t0,2,0,0,0,0,0,0,0,1\n"),
        "val.txt:2: label values must be 0 or 1, found '2'",
    ),
    "no tab": (
        lambda d: _edit_line(d / "train.txt", 1, "images/train_00000.jpg 0,0,0,0,0,0,0,1,0,0\n"),
        "train.txt:1: expected '<image path><TAB><0/1 per class>'",
    ),
    "empty split": (lambda d: (d / "val.txt").write_text(""), "val.txt: the val split is empty"),
    "missing split": (lambda d: (d / "val.txt").unlink(), "val.txt: missing"),
    "duplicate ids": (lambda d: _edit_line(d / "label.txt", 3, "1 also-one\n"), "label.txt:3: duplicate class id 1"),
    "label.txt gaps": (
        lambda d: _edit_line(d / "label.txt", 5, "\n"),
        "label.txt: class ids must run 0..9 with no gaps; missing 4",
    ),
    "label line without a name": (
        lambda d: _edit_line(d / "label.txt", 2, "1\n"),
        "label.txt:2: expected '<id> <name>'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DATASETS))
def test_every_bad_dataset_row_names_file_and_line(digits, tmp_path, case):
    dataset = _copy(digits, tmp_path)
    spoil, expected = BAD_DATASETS[case]
    spoil(dataset)
    with pytest.raises(DatasetError) as caught:
        read_dataset(dataset)
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert str(dataset) in str(caught.value)
    out = tmp_path / "out"
    run = run_cli("train", str(dataset), "--model", SMALL, "--output", str(out), "--epochs", "1", "--quiet")
    assert run.returncode == 2 and expected in run.stderr, run.stderr
    assert not out.exists(), "a failed check must write nothing"


def test_all_problems_are_reported_at_once(digits, tmp_path):
    dataset = _copy(digits, tmp_path)
    (dataset / "images" / "train_00002.jpg").unlink()
    _edit_line(dataset / "val.txt", 2, "images/val_00001.jpg\t0,2,0,0,0,0,0,0,0,1\n")
    with pytest.raises(DatasetError) as caught:
        read_dataset(dataset)
    assert len(caught.value.problems) == 2


def test_a_gap_in_label_txt_is_reported_once_and_hides_nothing(digits, tmp_path):
    """ids 0..8 then 10: every vector has 10 values but label.txt reads as 11 classes.
    That is one cause, said once with the lines it affects; a missing image and a
    corrupt one are still reported, and everything is in file and line order."""
    dataset = _copy(digits, tmp_path)
    _edit_line(dataset / "label.txt", 10, "10 nine\n")
    (dataset / "images" / "train_00002.jpg").unlink()
    (dataset / "images" / "val_00004.jpg").write_text("not a picture")
    with pytest.raises(DatasetError) as caught:
        read_dataset(dataset)
    problems = caught.value.problems
    train_lines = len((dataset / "train.txt").read_text().splitlines())
    assert problems[0] == f"{dataset}/label.txt: class ids must run 0..10 with no gaps; missing 9"
    assert any(
        p.startswith(
            f"{dataset}/train.txt:1: {train_lines} lines have 10 label values, but label.txt "
            "has 11 classes (label.txt lists 10 classes but its ids have a gap"
        )
        for p in problems
    )
    assert f"{dataset}/train.txt:3: image images/train_00002.jpg not found" in problems
    assert len(problems) == 5, problems  # the gap; per list the lengths once; the missing and the corrupt image
    assert problems == sorted(
        problems, key=lambda p: (p.split(":")[0], int(p.split(":")[1] or 0) if p.split(":")[1].isdigit() else 0)
    )
    run = run_cli("check_dataset", str(dataset), "--all")
    assert run.returncode == 2 and run.stderr.count("\n  ") == len(problems), run.stderr


def test_coco_conversion_renumbers_categories(digits, tmp_path):
    dataset = read_dataset(digits)
    coco_ids = [11, 13, 17, 19, 23, 29, 31, 37, 41, 43]  # not 0..N-1, as COCO's are not
    images, annotations = [], []
    for i, sample in enumerate(dataset.splits["train"][:40]):
        images.append({"id": 1000 + i, "file_name": sample.path.name, "width": 64, "height": 64})
        for c in np.nonzero(sample.labels)[0]:
            for _ in range(2):  # two boxes of one category still make one label
                annotations.append(
                    {"id": len(annotations) + 1, "image_id": 1000 + i, "category_id": coco_ids[c], "bbox": [0, 0, 8, 8]}
                )
    names = read_dataset(digits).labels
    categories = [{"id": cid, "name": name} for cid, name in zip(coco_ids, names)][::-1]
    source = tmp_path / "instances.json"
    source.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    out = tmp_path / "converted"
    run = run_cli(
        "convert_dataset", "--from", "coco", str(source), str(digits / "images"), str(out), "--val_percent", "25"
    )
    assert run.returncode == 0, run.stderr
    converted = read_dataset(out)
    assert converted.labels == names
    assert len(converted.splits["val"]) == 10 and len(converted.splits["train"]) == 30
    truth = {s.path.name: s.labels for s in dataset.splits["train"][:40]}
    for split in converted.splits.values():
        for sample in split:
            np.testing.assert_array_equal(sample.labels, truth[sample.path.name])
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"images": images, "annotations": [{"id": 1, "image_id": 5, "category_id": 11}], "categories": categories}
        )
    )
    run = run_cli("convert_dataset", "--from", "coco", str(bad), str(digits / "images"), str(tmp_path / "x"))
    assert run.returncode == 2 and "names image 5, which is not listed" in run.stderr
    # several faults at once: every one is reported, in one error, and nothing is written
    faulty = {
        "images": [
            *images[:3],
            {"id": 9},
            {"id": 8, "file_name": "../outside.jpg"},
            {"id": 7, "file_name": "gone.jpg"},
        ],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 11},
            {"id": 2, "image_id": 1000, "category_id": 99},
            {"id": 3, "image_id": 1001, "category_id": 11},
        ],
        "categories": [*categories, {"name": "no id"}],
    }
    bad.write_text(json.dumps(faulty))
    run = run_cli("convert_dataset", "--from", "coco", str(bad), str(digits / "images"), str(tmp_path / "y"))
    assert run.returncode == 2
    for fault in (
        "6 problem(s) in the COCO annotations",
        "a category lacks an integer 'id' or a 'name'",
        "an image entry lacks 'id' or 'file_name'",
        "annotation 1 names image 5, which is not listed",
        "annotation 2 names category 99, which is not listed",
        "image file_name '../outside.jpg' must be a plain path",
        "annotated image gone.jpg not found",
    ):
        assert fault in run.stderr, (fault, run.stderr)
    assert not (tmp_path / "y").exists()
    run = run_cli("convert_dataset", "--from", "coco", str(tmp_path / "none.json"), str(digits / "images"), "z")
    assert run.returncode == 2 and "none.json: no such file" in run.stderr


# -- training ------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    history = Trainer(read_dataset(digits), options(out, epochs=3)).run(progress=False)
    return out, history


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


def _relabel(digits_vector):
    present = set(np.nonzero(digits_vector)[0].tolist())
    return [int(bool(present & {0, 1})), int(bool(present & {8, 9})), int(len(present) == 4)]


@pytest.mark.slow
def test_from_the_demo_model_beats_scratch_on_a_new_label_set(tmp_path):
    # Labels with priors well under 1/2, so that mAP measures what was learnt, not the prior.
    names = ["has a zero or a one", "has an eight or a nine", "has four digits"]
    dataset = read_dataset(
        write_dataset(tmp_path / "pairs", {"train": 192, "val": 128}, seed=11, label_names=names, relabel=_relabel)
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


# -- --freeze backbone, --cache_features -------------------------------------------------


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """A new label set on the demo's pictures, so that --from the demo model starts a new head."""
    names = ["has a zero or a one", "has an eight or a nine", "has four digits"]
    return read_dataset(
        write_dataset(
            tmp_path_factory.mktemp("pairs"), {"train": 192, "val": 96}, seed=11, label_names=names, relabel=_relabel
        )
    )


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


def yaml_threshold(model_dir):
    import yaml

    return yaml.safe_load((model_dir / "inference.yml").read_text())["PostProcess"]["MultiLabelThreshOutput"][
        "threshold"
    ]


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
