"""The `pyml` command end to end, in a subprocess."""

import json
import shutil
import subprocess
import sys

import images
import pytest
from terminal import run_on_terminal

from pyml.models import demo_model_dir

DEMO_IMAGE = demo_model_dir().parent / "images" / "digits_01.jpg"


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pyml.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def lcnet_yaml(lcnet_export, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "lcnet.yaml"
    path.write_text(f"""pipeline_name: image_multilabel_classification
SubModules:
  ImageMultiLabelClassification:
    module_name: image_multilabel_classification
    model_name: PP-LCNet_x1_0_ML
    model_dir: {lcnet_export}
    batch_size: 2
""")
    return path


@pytest.fixture(scope="module")
def photo_dir(photos, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_photos")
    for i, rgb in enumerate(list(photos.values()) * 2):
        (folder / f"photo_{i}.jpg").write_bytes(images.jpeg(rgb))
    return folder


def test_console_script_is_installed():
    assert shutil.which("pyml") is not None


def test_help_lists_every_subcommand_and_each_has_its_own_help():
    from pyml.cli import COMMANDS

    helped = run("--help")
    assert helped.returncode == 0
    listing = helped.stdout.split("commands (pyml COMMAND --help for each):")[1]
    for name, (module, line) in COMMANDS.items():
        assert f"  {name} " in listing and line in listing, name
        own = run(name, "--help")
        assert own.returncode == 0 and own.stdout.startswith(f"usage: pyml {name}"), name
        assert " ".join(module.DESCRIPTION.split()[:4]) in " ".join(own.stdout.split()), name


def test_folder_with_save_path_and_progress(lcnet_yaml, photo_dir, tmp_path):
    proc = run(
        "--pipeline",
        str(lcnet_yaml),
        "--input",
        str(photo_dir),
        "--threshold",
        "0.6",
        "--save_path",
        str(tmp_path),
        "--top_k",
        "3",
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    count = len(list(photo_dir.iterdir()))
    assert len(lines) == count and all(line.startswith("{'img_path': ") for line in lines)
    # not a terminal: no progress bar in a log (a bar redraws with \r and shows a rate)
    assert "\r" not in proc.stderr and "%|" not in proc.stderr and "img/s" not in proc.stderr, proc.stderr
    saved = json.loads((tmp_path / "photo_0_res.json").read_text())
    assert len(saved["class_ids"]) <= 3 and all(s > 0.6 for s in saved["scores"])
    assert (tmp_path / "photo_0_res.jpg").is_file()


def test_bad_image_is_one_line_and_exit_1(lcnet_yaml, photo_dir, tmp_path):
    shutil.copy(photo_dir / "photo_0.jpg", tmp_path / "good.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"this is not a jpeg")
    proc = run("--pipeline", str(lcnet_yaml), "--input", str(tmp_path))
    assert proc.returncode == 1
    assert len(proc.stdout.strip().splitlines()) == 1  # the good image still gets its result
    assert "bad.jpg" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("SubModules:\n  ImageMultiLabelClassification:\n    batch_size: -3\n")
    proc = run("--pipeline", str(path), "--input", "x.jpg")
    assert proc.returncode == 2
    assert "batch_size" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("--pipeline", "pyml_demo", "--input", "x.jpg", "--device", "gpu:0")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_get_pipeline_config_asks_before_overwriting(tmp_path):
    proc = run("--get_pipeline_config", "multi_label_image_classification", "--save_path", str(tmp_path))
    assert proc.returncode == 0
    written = tmp_path / "image_multilabel_classification.yaml"
    assert "SubModules" in written.read_text()
    written.write_text("edited")
    proc = run("--get_pipeline_config", "image_multilabel_classification", "--config_save_path", str(tmp_path))
    assert proc.returncode == 2 and "-y" in proc.stderr and written.read_text() == "edited"
    proc = run("--get_pipeline_config", "image_multilabel_classification", "--config_save_path", str(tmp_path), "-y")
    assert proc.returncode == 0 and "SubModules" in written.read_text()


def test_verbose_says_the_same_on_every_backend_and_explains_a_bad_image(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a picture")
    good = str(demo_model_dir().parent / "images" / "digits_01.jpg")
    for backend in ("paddle", "onnxruntime"):
        proc = run("--pipeline", "pyml_demo", "--input", good, "--backend", backend, "--verbose")
        assert proc.returncode == 0, proc.stderr
        ready = [line for line in proc.stderr.splitlines() if "pipeline ready" in line]
        assert len(ready) == 1 and f"backend {backend}" in ready[0], proc.stderr
        assert "batch 4" in ready[0] and "math threads" in ready[0] and "preprocess threads" in ready[0]
    proc = run("--pipeline", "pyml_demo", "--input", str(bad), "--verbose")
    assert proc.returncode == 1 and "InputError: reason=unsupported" in proc.stderr, proc.stderr
    for command in ("check_dataset", "train", "batch", "serve", "client", "eval"):
        helped = run(command, "--help")
        assert "--verbose" in helped.stdout and "log details" in helped.stdout, command


def test_on_a_terminal_the_bar_never_runs_into_a_result(tmp_path):
    import re

    folder = tmp_path / "many"
    folder.mkdir()
    pictures = sorted((demo_model_dir().parent / "images").glob("*.jpg"))
    for i, picture in enumerate(pictures):
        shutil.copy(picture, folder / f"{i:02d}.jpg")
    (folder / "zz_bad.jpg").write_text("not a picture")
    screen = run_on_terminal("-m", "pyml.cli", "--pipeline", "pyml_demo", "--input", str(folder))
    assert f"{len(pictures) + 1}/{len(pictures) + 1}" in screen  # the bar was drawn
    shown = [
        re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line).rstrip("\r").split("\r")[-1] for line in screen.split("\n")
    ]  # what stays visible of each line
    results = [line for line in shown if "'img_path'" in line]
    errors = [line for line in shown if "pyml: error" in line]
    assert len(results) == len(pictures) and all(line.startswith("{'img_path': ") for line in results), screen
    assert len(errors) == 1 and errors[0].startswith("pyml: error: "), screen


def test_one_version_everywhere():
    """pyproject.toml is the version's one home: the distribution, `import pyml`, the native
    module (CMake reads pyproject.toml) and `pyml --version` agree."""
    from importlib import metadata
    from pathlib import Path

    import pyml
    from pyml import _native

    tomllib = pytest.importorskip("tomllib")
    declared = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]["version"]
    assert pyml.__version__ == metadata.version("pyml") == _native.__version__ == declared
    assert run("--version").stdout.strip() == f"pyml {declared}"


def test_a_closed_stdout_ends_the_command_quietly(tmp_path):
    for i in range(60):
        shutil.copy(DEMO_IMAGE, tmp_path / f"digits_{i:02d}.jpg")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "pyml_demo", "--input", str(tmp_path), "--batch_size", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("{'img_path'")
    proc.stdout.close()  # as `| head -1` does
    with proc.stderr:
        stderr = proc.stderr.read()
    assert proc.wait(timeout=300) == 141
    assert stderr == "", stderr


def test_a_bare_pyml_points_at_the_command_list():
    proc = run()
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines()[-1].endswith("pyml --help lists the other commands (serve, batch, train, ...)")
    )
