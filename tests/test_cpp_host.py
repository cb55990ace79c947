"""A C++ host built against the *installed* pyml C++ library (csrc/examples/preprocess_dir,
installed into a temporary prefix) reads a PaddleX inference.yml and gives the Python
binding's tensors bit for bit."""

import shutil
import subprocess
from pathlib import Path

import images
import numpy as np
import pytest

from pyml import _native
from pyml.model_dir import load_model_dir

pytestmark = pytest.mark.needs_compiler

ROOT = Path(__file__).resolve().parent.parent


def cmake(*args, cwd=None):
    generator = ["-G", "Ninja"] if shutil.which("ninja") and args[0] == "-S" else []
    subprocess.run(["cmake", *args, *generator], check=True, cwd=cwd, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def preprocess_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("cpp_host")
    prefix = work / "prefix"
    # The plain commands a C++ user types: no options, install into a prefix of their choice.
    cmake("-S", str(ROOT), "-B", str(work / "core"))
    cmake("--build", str(work / "core"), "-j", "2")
    cmake("--install", str(work / "core"), "--prefix", str(prefix))
    assert (prefix / "include" / "pyml" / "preprocess.h").is_file()
    cmake(
        "-S",
        str(ROOT / "csrc" / "examples" / "preprocess_dir"),
        "-B",
        str(work / "example"),
        f"-DCMAKE_PREFIX_PATH={prefix}",
    )
    cmake("--build", str(work / "example"))
    return work / "example" / "preprocess_dir"


def test_installed_library_matches_python_binding(preprocess_dir, photos, lcnet_export, tmp_path):
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    out.mkdir()
    for name, rgb in photos.items():
        (folder / f"{name}.jpg").write_bytes(images.jpeg(rgb))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    proc = subprocess.run(
        [str(preprocess_dir), str(lcnet_export), str(folder), str(out)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1  # the broken PNG is reported, the rest are written
    assert "broken.png error corrupt" in proc.stdout or "broken.png error truncated" in proc.stdout
    # The installed C++ library and the Python binding: one reader, one preprocessor, same bits.
    pre = _native.Preprocessor(_native.PreprocessSpec(**load_model_dir(lcnet_export).preprocess), threads=1)
    for name in photos:
        cpp = np.fromfile(out / f"{name}.jpg.f32", dtype=np.float32).reshape(3, 448, 448)
        python = pre.run([(folder / f"{name}.jpg").read_bytes()])[0]
        assert np.array_equal(cpp, python), name
        assert f"{name}.jpg [3,448,448] checksum" in proc.stdout


@pytest.fixture(scope="module")
def stream_client(tmp_path_factory):
    build = tmp_path_factory.mktemp("stream_client")
    cmake("-S", str(ROOT / "csrc" / "examples" / "stream_client"), "-B", str(build))
    cmake("--build", str(build))
    return build / "stream_client"


def test_cpp_stream_client_against_a_real_server(stream_client, tmp_path):
    from serving_harness import RunningServer

    import pyml
    from pyml.models import demo_model_dir
    from pyml.serving import Client

    folder = demo_model_dir().parent / "images"
    with RunningServer({"digits": pyml.create_pipeline()}) as server:
        proc = subprocess.run(
            [str(stream_client), server.target, str(folder)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        cpp = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()}
        with Client(server.target) as client:
            python = {Path(r.input_path).name: r.label_names for r in client.classify_stream(str(folder))}
        assert cpp == python and len(cpp) == len(list(folder.glob("*.jpg")))
        (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x01" * 30)
        proc = subprocess.run(
            [str(stream_client), server.target, str(tmp_path)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1 and "junk.png error" in proc.stdout


def _openvino_cmake_dir() -> Path:
    openvino = pytest.importorskip("openvino", reason="pyml[openvino] is not installed")
    return Path(openvino.__file__).parent / "cmake"


@pytest.fixture(scope="module")
def classify_dir(tmp_path_factory):
    """csrc/examples/classify_dir built against pyml installed with pyml::openvino."""
    ov_dir = _openvino_cmake_dir()
    work = tmp_path_factory.mktemp("classify_dir")
    prefix = work / "prefix"
    cmake("-S", str(ROOT), "-B", str(work / "core"), f"-DOpenVINO_DIR={ov_dir}", "-DPYML_BUILD_PYTHON=OFF")
    cmake("--build", str(work / "core"), "-j", "2")
    cmake("--install", str(work / "core"), "--prefix", str(prefix))
    assert (prefix / "include" / "pyml" / "openvino_backend.h").is_file()
    cmake(
        "-S",
        str(ROOT / "csrc" / "examples" / "classify_dir"),
        "-B",
        str(work / "example"),
        f"-DCMAKE_PREFIX_PATH={prefix}",
        f"-DOpenVINO_DIR={ov_dir}",
    )
    cmake("--build", str(work / "example"))
    return work / "example" / "classify_dir"


def test_cpp_classify_dir_prints_what_pyml_prints(classify_dir, photos, tmp_path):
    import ast
    import json
    import sys

    from pyml.models import demo_model_dir

    model = tmp_path / "model"
    shutil.copytree(demo_model_dir(), model, ignore=shutil.ignore_patterns("inference.onnx*"))
    missing = subprocess.run(
        [str(classify_dir), str(model), str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "pyml convert" in missing.stderr  # no inference.onnx yet
    subprocess.run(
        [sys.executable, "-m", "pyml.cli", "convert", str(model)], check=True, capture_output=True, timeout=600
    )
    folder = tmp_path / "in"
    shutil.copytree(demo_model_dir().parent / "images", folder, ignore=shutil.ignore_patterns("*.json"))
    for name, rgb in photos.items():  # real photos too: every size goes through one batch shape
        (folder / f"{name}.jpg").write_bytes(images.jpeg(rgb))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    proc = subprocess.run(
        [str(classify_dir), str(model), str(folder), "4"], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 1, proc.stderr  # broken.jpg
    cpp = {Path(row["img_path"]).name: row for row in map(json.loads, proc.stdout.splitlines())}
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "pyml_demo", "--input", str(folder), "--batch_size", "4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    python = {}
    for line in run.stdout.splitlines():
        row = ast.literal_eval(line)  # pyml prints a dict's repr, as PaddleX does
        python[Path(row["img_path"]).name] = row
    assert set(cpp) == set(python) | {"broken.jpg"}
    # the row form `pyml batch` writes: an error is {reason, message} beside empty lists
    batch = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "batch", str(folder), "--pipeline", "pyml_demo", "--output",
         str(tmp_path / "rows.jsonl"), "--no_progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert batch.returncode == 1, batch.stderr
    rows = {
        Path(row["img_path"]).name: row for row in map(json.loads, (tmp_path / "rows.jsonl").read_text().splitlines())
    }
    assert cpp["broken.jpg"] == rows["broken.jpg"]
    assert all(list(cpp[name]) == list(rows[name]) for name in rows)  # the same keys in the same order
    for name, row in python.items():
        assert cpp[name]["class_ids"] == row["class_ids"], name
        assert cpp[name]["label_names"] == row["label_names"], name
        np.testing.assert_allclose(cpp[name]["scores"], row["scores"], atol=2e-5, err_msg=name)


def test_cpp_classify_dir_bad_arguments_are_one_line_and_exit_2(classify_dir, tmp_path):
    from pyml.models import demo_model_dir

    for args, said in (
        ([str(demo_model_dir()), str(tmp_path / "missing")], "missing: cannot list the folder"),
        ([str(tmp_path / "no_model"), str(tmp_path)], "no_model"),
        ([str(demo_model_dir()), str(tmp_path), "zero"], "BATCH must be a whole number"),
    ):
        proc = subprocess.run([str(classify_dir), *args], capture_output=True, text=True, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("classify_dir: error:"), proc.stderr
        assert said in lines[0] and "terminate called" not in proc.stderr


def test_a_host_of_pyml_model_configures_without_openvino(classify_dir, tmp_path):
    """The prefix has pyml::openvino; a host that links only pyml::model does not name
    OpenVINO at all, and one that asks for the openvino component without it is told how."""
    prefix = classify_dir.parents[1] / "prefix"
    cmake("-S", str(ROOT / "csrc" / "examples" / "preprocess_dir"), "-B", str(tmp_path / "host"),
          f"-DCMAKE_PREFIX_PATH={prefix}")  # fmt: skip
    cmake("--build", str(tmp_path / "host"))
    assert (tmp_path / "host" / "preprocess_dir").is_file()
    refused = subprocess.run(
        ["cmake", "-S", str(ROOT / "csrc" / "examples" / "classify_dir"), "-B", str(tmp_path / "ov"),
         f"-DCMAKE_PREFIX_PATH={prefix}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert refused.returncode != 0 and "pyml's openvino component needs OpenVINO" in refused.stderr, refused.stderr
