"""The model backends: each loads and answers, scores pass the parity rule against
Paddle's (pyml.backends.parity) on the six architectures and the demo model, bf16 where
the CPU has it, `auto` measures and remembers, and a failed conversion is a clear error
that `auto` falls back from."""

from __future__ import annotations

import importlib.util
import json

import images
import numpy as np
import pytest

import pyml
from pyml.backends import create_backend, parity, parse_device
from pyml.backends.auto import cache_key
from pyml.backends.device import cpu_description, cpu_has_bf16, resolve_threads
from pyml.backends.onnx_convert import cache_dir, model_hash
from pyml.errors import BackendError
from pyml.model_dir import load_model_dir
from pyml.models import demo_model_dir
from tools.export_arch import ARCHITECTURES

CPU = parse_device("cpu")
ONNX_BACKENDS = ("openvino", "onnxruntime")
CONVERTER = all(importlib.util.find_spec(m) for m in ("paddle2onnx", "onnx", "polygraphy", "onnx_graphsurgeon"))


def _needs(backend: str):
    if not CONVERTER:
        pytest.skip("the ONNX converter is not installed (pip install 'pyml[onnx]')")
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (pip install 'pyml[{backend}]')")


def _batch(size: int, n: int = 2) -> np.ndarray:
    return np.random.default_rng(3).standard_normal((n, 3, size, size)).astype(np.float32)


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
@pytest.mark.parametrize("model_name", sorted(ARCHITECTURES))
def test_backend_scores_equal_paddle_on_each_architecture(backend, model_name, architecture_export):
    _needs(backend)
    model_dir, size = architecture_export(model_name)
    spec = load_model_dir(model_dir)
    batch = images.photo_batch(size)  # real photos: the exports are calibrated on such input
    reference = create_backend("paddle", spec.model_file, spec.params_file, CPU)(batch)
    scores = create_backend(backend, spec.model_file, spec.params_file, CPU)(batch)
    assert scores.shape == reference.shape == (len(batch), 80)
    report = parity.compare(reference, scores, spec.model_name, spec.threshold)
    assert report.ok, report.failure_message(backend)


def test_the_rule_catches_a_channel_order_bug(lcnet_export):
    """A defect a backend could have (RGB fed as BGR) fails the rule; rounding does not."""
    spec = load_model_dir(lcnet_export)
    batch = images.photo_batch(448)
    paddle = create_backend("paddle", spec.model_file, spec.params_file, CPU)
    reference = paddle(batch)
    swapped = parity.compare(reference, paddle(np.ascontiguousarray(batch[:, ::-1])), spec.model_name)
    assert not swapped.ok and "differs from" in swapped.describe("swapped")
    rounded = parity.compare(reference, np.round(reference, 6), spec.model_name)
    assert rounded.ok, rounded.describe()


@pytest.mark.parametrize("model_name", sorted(ARCHITECTURES))
def test_paddle_without_onednn_passes_the_same_rule(model_name, architecture_export):
    """Paddle's own two CPU paths are two float32 runtimes too: the rule holds between them."""
    model_dir, size = architecture_export(model_name)
    spec = load_model_dir(model_dir)
    batch = images.photo_batch(size)
    reference = create_backend("paddle", spec.model_file, spec.params_file, CPU)(batch)
    plain = create_backend("paddle", spec.model_file, spec.params_file, CPU, enable_mkldnn=False)(batch)
    report = parity.compare(reference, plain, spec.model_name, spec.threshold)
    assert report.ok, report.failure_message("paddle without oneDNN")


@pytest.mark.parametrize("backend", ONNX_BACKENDS)
def test_demo_pipeline_gives_paddles_answers(backend):
    _needs(backend)
    images = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))
    reference = pyml.create_pipeline(batch_size=3)(images)
    other = pyml.create_pipeline(batch_size=3, backend=backend)
    assert other.backend_name == backend
    for a, b in zip(reference, other(images)):
        assert a["class_ids"] == b["class_ids"]
        assert np.abs(a.all_scores - b.all_scores).max() <= 1e-5
    odd = other(images[:1]) + other(images[:5])  # new batch shapes: openvino compiles each once
    assert [r["class_ids"] for r in odd] == [r["class_ids"] for r in reference[:1] + reference[:5]]


@pytest.mark.parametrize("backend", ("paddle", "openvino"))
def test_bf16_answers_close_to_fp32_or_says_why_not(backend):
    if backend == "openvino":
        _needs(backend)
    spec = load_model_dir(demo_model_dir())
    if not cpu_has_bf16():
        with pytest.raises(BackendError, match="bf16 instructions"):
            create_backend(backend, spec.model_file, spec.params_file, CPU, precision="bf16")
        pytest.skip("this CPU has no avx512_bf16/AMX: bf16 is refused, as checked")
    batch = _batch(64, 8)
    fp32 = create_backend(backend, spec.model_file, spec.params_file, CPU)(batch)
    bf16 = create_backend(backend, spec.model_file, spec.params_file, CPU, precision="bf16")(batch)
    assert bf16.shape == fp32.shape
    assert 0 < np.abs(bf16 - fp32).max() < 0.1  # it is really bf16, and still the same model


def test_onnxruntime_refuses_bf16_and_other_devices():
    _needs("onnxruntime")
    spec = load_model_dir(demo_model_dir())
    with pytest.raises(BackendError, match="fp32 only"):
        create_backend("onnxruntime", spec.model_file, spec.params_file, CPU, precision="bf16")
    with pytest.raises(BackendError, match="runs on the CPU"):
        create_backend("onnxruntime", spec.model_file, spec.params_file, parse_device("gpu:0"))


def test_unknown_backend_and_precision_are_clear():
    with pytest.raises(BackendError, match="unknown backend 'tensorrt'"):
        pyml.create_pipeline(backend="tensorrt")
    with pytest.raises(pyml.ConfigError, match="precision must be one of fp32, bf16, int8, not 'fp16'"):
        pyml.create_pipeline(precision="fp16")


def test_convert_writes_beside_the_model_and_is_reused(tmp_path):
    if not CONVERTER:
        pytest.skip("the ONNX converter is not installed (pip install 'pyml[onnx]')")
    import shutil
    import subprocess
    import sys

    model = tmp_path / "model"
    shutil.copytree(demo_model_dir(), model, ignore=shutil.ignore_patterns("inference.onnx*"))  # as PaddleX ships it
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "convert", str(model)], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    onnx_file = model / "inference.onnx"
    assert onnx_file.stat().st_size > 0 and "wrote" in run.stderr
    spec = load_model_dir(model)
    assert (model / "inference.onnx.sha256").read_text().strip() == model_hash(spec.model_file, spec.params_file)
    again = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "convert", str(model)], capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0 and "up to date" in again.stderr
    if importlib.util.find_spec("onnxruntime"):
        backend = create_backend("onnxruntime", spec.model_file, spec.params_file, CPU)
        assert backend.onnx_file == onnx_file


def _unconvertible_model(out_dir):
    """A model Paddle runs and paddle2onnx cannot convert (it has no ONNX form of
    searchsorted, and aborts the converting process on it)."""
    from pyml.backends.paddle import import_paddle
    from pyml.train.export import save_model_dir

    paddle = import_paddle()

    class Bucketed(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv = paddle.nn.Conv2D(3, 10, 3)

        def forward(self, x):
            pooled = self.conv(x).mean(axis=[2, 3])
            edges = paddle.to_tensor([-0.5, 0.0, 0.5])
            return paddle.searchsorted(edges, pooled).astype("float32") - 1.5

    paddle.seed(0)
    return save_model_dir(Bucketed(), out_dir, "bucketed_ML", [str(i) for i in range(10)], 64)


def test_failed_conversion_is_a_clear_error_and_auto_falls_back_to_paddle(tmp_path, caplog):
    if not CONVERTER:
        pytest.skip("the ONNX converter is not installed (pip install 'pyml[onnx]')")
    model = _unconvertible_model(tmp_path / "model")
    spec = load_model_dir(model)
    with pytest.raises(BackendError, match=r"converting .*inference\.json to ONNX failed"):
        create_backend("onnxruntime", spec.model_file, spec.params_file, CPU)
    with caplog.at_level("INFO", logger="pyml.backends.auto"):
        pipeline = pyml.create_pipeline(model_dir=str(model), backend="auto")
    assert pipeline.backend_name == "paddle"
    choice = pipeline._backend.auto_choice
    assert choice["winner"] == "paddle" and "ONNX failed" in " ".join(choice["rejected"].values())
    assert pipeline(str(demo_model_dir().parent / "images" / "digits_01.jpg"))[0].error is None


def test_auto_measures_once_then_remembers(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PYML_CACHE_DIR", str(tmp_path / "cache"))
    first = pyml.create_pipeline(backend="auto", batch_size=2)
    choice = first._backend.auto_choice
    assert "paddle" in choice["ms"] and choice["winner"] in choice["ms"]
    assert first.backend_name == choice["winner"]
    remembered = json.loads((cache_dir() / "auto.json").read_text())
    spec = load_model_dir(demo_model_dir())
    key = cache_key(
        model_hash(spec.model_file, spec.params_file), resolve_threads(first.config.cpu_threads), (2, 3, 64, 64), "fp32"
    )
    assert remembered[key]["winner"] == choice["winner"] and cpu_description() in key
    with caplog.at_level("INFO", logger="pyml.backends.auto"):
        second = pyml.create_pipeline(backend="auto", batch_size=2)
    assert second.backend_name == choice["winner"] and "remembered" in caplog.text
    image = str(demo_model_dir().parent / "images" / "digits_02.jpg")
    assert second(image)[0]["class_ids"] == pyml.create_pipeline()(image)[0]["class_ids"]


def test_pipeline_yaml_carries_backend_and_precision(tmp_path):
    from pyml.pipeline_yaml import load_pipeline_config

    path = tmp_path / "p.yaml"
    path.write_text(
        "pipeline_name: image_multilabel_classification\nSubModules:\n"
        "  ImageMultiLabelClassification:\n    model_dir: null\n"
        "    backend: auto\n    precision: bf16\n",
        encoding="utf-8",
    )
    config = load_pipeline_config(path)
    assert (config.backend, config.precision) == ("auto", "bf16")
    path.write_text(path.read_text().replace("bf16", "fp16"), encoding="utf-8")
    with pytest.raises(pyml.ConfigError, match=r"p\.yaml: precision must be one of fp32, bf16, int8, not 'fp16'"):
        load_pipeline_config(path)


def test_mkl_gets_its_avx2_kernels_on_amd_cpus_and_a_user_setting_wins():
    import os
    import subprocess
    import sys
    from pathlib import Path

    amd = "AuthenticAMD" in Path("/proc/cpuinfo").read_text()
    code = (
        "import os; from pyml.backends.paddle import import_paddle; import_paddle(); "
        "print(os.environ.get('MKL_DEBUG_CPU_TYPE'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.stdout.strip() == ("5" if amd else "None"), run.stderr
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "MKL_DEBUG_CPU_TYPE": "2"},
    )
    assert run.stdout.strip() == "2", run.stderr


def test_paddle_is_an_extra_so_a_cuda_build_is_never_replaced():
    """pip must not install the CPU wheel over paddlepaddle-gpu: paddle is the `cpu` extra."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("paddlepaddle")]
    assert project["optional-dependencies"]["cpu"] == ["paddlepaddle==3.2.2"]
    assert "pyml[cpu]" in project["optional-dependencies"]["test"]


@pytest.mark.parametrize(
    "fake, expected",
    [
        ("raise ImportError('No module named paddle')", "Paddle is not installed"),
        ("__version__ = '2.6.1'", "paddle 2.6.1 is installed; pyml needs 3.x"),
    ],
)
def test_a_missing_or_old_paddle_is_one_clear_line(tmp_path, fake, expected):
    import os
    import subprocess
    import sys

    (tmp_path / "paddle").mkdir()
    (tmp_path / "paddle" / "__init__.py").write_text(fake + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    demo = str(demo_model_dir().parent / "images" / "digits_01.jpg")
    run = subprocess.run(
        [sys.executable, "-m", "pyml", "--pipeline", "pyml_demo", "--input", demo, "--backend", "paddle"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "pip install 'pyml[cpu]'" in lines[0], run.stderr
    assert "paddlepaddle-gpu" in lines[0] and "Traceback" not in run.stderr
