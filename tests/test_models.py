"""Official models by name, found and downloaded as PaddleX does, against a loopback
mirror the tests start (PYML_MODEL_MIRROR). The packages are made from pyml's own
PP-LCNet_x1_0_ML export in PaddleX's layout: `<NAME>_infer/` holding the model files."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import images
import pytest
from mirror import Mirror
from terminal import run_on_terminal

import pyml
from pyml import downloads, models
from pyml.errors import ConfigError, ModelError
from pyml.model_dir import load_model_dir

NAME = "PP-LCNet_x1_0_ML"
TAR_PATH = f"/official_inference_model/paddle3.0.0/{NAME}_infer.tar"
PDPARAMS_PATH = f"/official_pretrained_model/{NAME}_pretrained.pdparams"


def package(model_dir: Path, top: str = f"{NAME}_infer", extra: tarfile.TarInfo | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(model_dir.iterdir()):
            if path.suffix in (".json", ".pdiparams", ".yml"):
                tar.add(path, arcname=f"{top}/{path.name}")
        if extra is not None:
            tar.addfile(extra, io.BytesIO(b"x" * extra.size))
    return buffer.getvalue()


@pytest.fixture
def mirror(monkeypatch, tmp_path):
    server = Mirror()
    monkeypatch.setenv("PYML_MODEL_MIRROR", server.url)
    monkeypatch.setenv("PADDLE_PDX_CACHE_HOME", str(tmp_path / "paddlex"))
    monkeypatch.delenv("PYML_MODEL_HOME", raising=False)
    monkeypatch.delenv("PYML_OFFLINE", raising=False)
    monkeypatch.setattr(downloads, "BACKOFF_S", 0.01)
    yield server
    server.stop()


def cache(tmp_path: Path) -> Path:
    return tmp_path / "paddlex" / "official_models"


def leftovers(tmp_path: Path) -> list[str]:
    """Anything in the cache but lock files: a failure must leave nothing behind."""
    root = cache(tmp_path)
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) if root.exists() else []


def env_for(server: Mirror, tmp_path: Path, **extra: str) -> dict:
    env = {**os.environ, "PYML_MODEL_MIRROR": server.url, "PADDLE_PDX_CACHE_HOME": str(tmp_path / "paddlex")}
    env.pop("PYML_MODEL_HOME", None)
    env.pop("PYML_OFFLINE", None)
    return {**env, **extra}


def test_the_seeds_quick_start_answers_with_coco_labels(mirror, lcnet_export, tmp_path, photos):
    """`pyml --pipeline multi_label_image_classification --input photo.jpg` downloads
    PP-LCNet_x1_0_ML once (with a progress bar), then answers from the cache."""
    mirror.files[TAR_PATH] = package(lcnet_export)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(images.jpeg(next(iter(photos.values()))))
    command = [
        sys.executable,
        "-m",
        "pyml.cli",
        "--pipeline",
        "multi_label_image_classification",
        "--input",
        str(photo),
    ]
    screen = run_on_terminal(*command[1:], env=env_for(mirror, tmp_path))  # as a person sees it
    assert f"downloading {NAME}" in screen and f"{NAME}:" in screen and "B/s" in screen, screen  # tqdm's bar
    assert mirror.gets(TAR_PATH) == 1 and "'label_names'" in screen
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env_for(mirror, tmp_path))
    assert first.returncode == 0, first.stderr
    assert "downloading" not in first.stderr  # found in the cache now
    coco = set(load_model_dir(lcnet_export).labels)
    printed = [n.strip(" '\"") for n in first.stdout.split("'label_names': [")[1].split("]")[0].split(",") if n]
    assert printed and set(printed) <= coco
    assert (cache(tmp_path) / NAME / "inference.yml").is_file()
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env_for(mirror, tmp_path))
    assert second.returncode == 0 and second.stdout == first.stdout
    assert mirror.gets(TAR_PATH) == 1 and "downloading" not in second.stderr  # no request after the first


def test_a_paddlex_cache_folder_is_used_with_no_network(mirror, lcnet_export, tmp_path):
    import shutil

    shutil.copytree(lcnet_export, cache(tmp_path) / NAME)
    mirror.stop()
    model = pyml.create_model(NAME)
    assert model.model.model_name == NAME and mirror.requests == []
    assert models.find_local(NAME) == cache(tmp_path) / NAME


def test_pyml_model_home_is_looked_in_and_downloaded_into(mirror, lcnet_export, tmp_path, monkeypatch):
    own = tmp_path / "own"
    monkeypatch.setenv("PYML_MODEL_HOME", str(own))
    mirror.files[TAR_PATH] = package(lcnet_export)
    assert models.resolve_model_dir(NAME, None, progress=False) == own / NAME
    assert not (cache(tmp_path) / NAME).exists() and mirror.gets(TAR_PATH) == 1
    assert models.resolve_model_dir(NAME, None, progress=False) == own / NAME and mirror.gets(TAR_PATH) == 1


def test_an_explicit_model_dir_wins_and_the_demo_is_never_a_substitute(mirror, lcnet_export):
    assert models.resolve_model_dir(NAME, lcnet_export) == lcnet_export
    assert models.resolve_model_dir(None, None) == models.demo_model_dir()
    with pytest.raises(ConfigError, match="not a model pyml can find by name"):
        pyml.create_model("PP-LCNet_x2_0_ML")
    with pytest.raises(ModelError, match="HTTP 404"):
        pyml.create_model(NAME)  # not on the mirror: an error, not the demo
    assert mirror.requests == [(TAR_PATH, None)]


def test_404_is_a_clear_error_that_names_everything(mirror, tmp_path):
    with pytest.raises(ModelError) as caught:
        downloads.download_model(NAME, progress=False)
    message = str(caught.value)
    for part in (f"{mirror.url}{TAR_PATH}", "HTTP 404", str(cache(tmp_path) / NAME), "PYML_MODEL_MIRROR", "pyml_demo"):
        assert part in message
    # the mirror is set already: the advice is to check it, not to set it
    assert f"check that the mirror PYML_MODEL_MIRROR={mirror.url} holds {TAR_PATH[1:]}" in message
    assert "set PYML_MODEL_MIRROR" not in message
    # in Python the advice is Python, not a flag
    assert 'create_pipeline("pyml_demo")' in message and "--pipeline" not in message
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "base, reason",
    [
        ("http://pyml-test.invalid", "cannot resolve the host name pyml-test.invalid"),
        ("REFUSED", "refused the connection"),
    ],
)
def test_a_host_that_does_not_resolve_or_refuses_fails_after_one_quick_retry(
    mirror, tmp_path, monkeypatch, caplog, base, reason
):
    from reliability.load import free_port

    monkeypatch.setenv("PYML_MODEL_MIRROR", f"http://127.0.0.1:{free_port()}" if base == "REFUSED" else base)
    waits = []
    monkeypatch.setattr(downloads.time, "sleep", waits.append)
    with pytest.raises(ModelError, match=reason) as caught:
        downloads.download_model(NAME, progress=False)
    assert waits == [downloads.UNHEALING_BACKOFF_S]  # one quick retry, no back-off ladder
    assert "trying again" not in caplog.text and "attempts" not in str(caught.value)
    assert leftovers(tmp_path) == []


def test_the_command_line_gives_command_line_advice(mirror, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "--pipeline", "image_multilabel_classification", "--input", "x.jpg"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_for(mirror, tmp_path),
    )
    assert run.returncode == 2
    assert "--pipeline pyml_demo runs the embedded demo model" in run.stderr and "create_pipeline" not in run.stderr


def test_missing_training_weights_say_where_the_file_goes_and_how_to_train_without(mirror, tmp_path, monkeypatch):
    with pytest.raises(ModelError) as caught:
        downloads.fetch_pretrained(NAME, progress=False)
    message = str(caught.value)
    target = tmp_path / "paddlex" / "official_pretrained" / f"{NAME}_pretrained.pdparams"
    assert f"save it as {target}" in message and "unpack" not in message and "inference.yml" not in message
    assert "leave out pretrained" in message and "pyml_demo" not in message
    monkeypatch.setattr(pyml.errors, "_ON_THE_COMMAND_LINE", True)  # as `pyml train` / `pyml download` run
    with pytest.raises(ModelError, match="start from a model directory with --from DIR, or leave out --pretrained"):
        downloads.fetch_pretrained(NAME, progress=False)
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "download", "bogus"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_for(mirror, tmp_path),
    )
    assert run.returncode == 2 and "model_dir" not in run.stderr
    assert "'bogus' is not an official model" in run.stderr and "needs no download" in run.stderr


def test_a_dropped_connection_resumes_with_range(mirror, lcnet_export, tmp_path):
    mirror.files[TAR_PATH] = package(lcnet_export)
    mirror.drops = 1
    assert downloads.download_model(NAME, progress=False) == cache(tmp_path) / NAME
    ranges = [r for p, r in mirror.requests if p == TAR_PATH]
    assert len(ranges) == 2 and ranges[0] is None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert leftovers(tmp_path) == [NAME]


def test_a_server_that_always_drops_is_a_clear_error(mirror, lcnet_export, tmp_path):
    mirror.files[TAR_PATH] = package(lcnet_export)
    mirror.honour_range = False
    mirror.drops = 1000
    with pytest.raises(ModelError, match=r"connection lost .*after 5 attempts"):
        downloads.download_model(NAME, progress=False)
    assert mirror.gets(TAR_PATH) == 5 and leftovers(tmp_path) == []


def test_a_corrupt_tar_leaves_nothing_behind(mirror, lcnet_export, tmp_path):
    mirror.files[TAR_PATH] = package(lcnet_export)[:-20000] + b"\0" * 10
    with pytest.raises(ModelError, match=r"not a readable tar archive|holds no model|does not load"):
        downloads.download_model(NAME, progress=False)
    assert leftovers(tmp_path) == []
    mirror.files[TAR_PATH] = b"<html>not a tar</html>"
    with pytest.raises(ModelError, match="not a readable tar archive") as caught:
        downloads.download_model(NAME, progress=False)
    assert "\n" not in str(caught.value)  # one line, though tarfile's own message has five
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "member, reason",
    [
        ("../escaped.txt", "unsafe path"),
        ("/etc/evil.txt", "unsafe path"),
    ],
)
def test_a_tar_that_escapes_is_refused(mirror, lcnet_export, tmp_path, member, reason):
    info = tarfile.TarInfo(member)
    info.size = 4
    mirror.files[TAR_PATH] = package(lcnet_export, extra=info)
    with pytest.raises(ModelError, match=reason):
        downloads.download_model(NAME, progress=False)
    assert leftovers(tmp_path) == [] and not (tmp_path / "paddlex" / "escaped.txt").exists()


def test_a_link_out_of_the_archive_is_refused(mirror, lcnet_export, tmp_path):
    info = tarfile.TarInfo(f"{NAME}_infer/link")
    info.type, info.linkname = tarfile.SYMTYPE, "../../../outside"
    mirror.files[TAR_PATH] = package(lcnet_export, extra=info)
    with pytest.raises(ModelError, match="pointing outside"):
        downloads.download_model(NAME, progress=False)
    assert leftovers(tmp_path) == []


def test_the_wrong_model_in_the_package_is_refused(mirror, tmp_path):
    mirror.files[TAR_PATH] = package(models.demo_model_dir())
    with pytest.raises(ModelError, match="holds model 'pyml-demo-digits_ML', not 'PP-LCNet_x1_0_ML'"):
        downloads.download_model(NAME, progress=False)
    assert leftovers(tmp_path) == []


def test_two_processes_at_once_download_once(mirror, lcnet_export, tmp_path):
    mirror.files[TAR_PATH] = package(lcnet_export)
    code = (
        "import sys; from pyml.models import resolve_model_dir; "
        f"print(resolve_model_dir({NAME!r}, None, progress=False))"
    )
    env = env_for(mirror, tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert {o.strip() for o, _ in outs} == {str(cache(tmp_path) / NAME)}
    assert mirror.gets(TAR_PATH) == 1
    assert sum("downloading" in e for _, e in outs) == 1
    assert leftovers(tmp_path) == [NAME]


def test_offline_says_so_on_one_line_and_exits_2(mirror, tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyml.cli",
            "--pipeline",
            "image_multilabel_classification",
            "--input",
            str(models.demo_model_dir().parent / "images" / "digits_01.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env_for(mirror, tmp_path, PYML_OFFLINE="1"),
    )
    assert run.returncode == 2 and mirror.requests == []
    lines = [line for line in run.stderr.splitlines() if line.startswith("pyml")]
    assert len(lines) == 1 and "PYML_OFFLINE is set" in lines[0] and "Traceback" not in run.stderr


def test_pretrained_weights_by_name_are_fetched_once_and_checked(mirror, tmp_path):
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()
    weights = tmp_path / "w.pdparams"
    paddle.save({"fc.weight": paddle.ones([2, 2])}, str(weights))
    mirror.files[PDPARAMS_PATH] = weights.read_bytes()
    fetched = downloads.fetch_pretrained(NAME, progress=False)
    assert fetched.name == f"{NAME}_pretrained.pdparams" and fetched.read_bytes() == weights.read_bytes()
    assert downloads.fetch_pretrained(NAME, progress=False) == fetched and mirror.gets(PDPARAMS_PATH) == 1
    fetched.unlink()
    mirror.files[PDPARAMS_PATH] = b"not weights"
    with pytest.raises(ModelError, match="not a Paddle parameters file"):
        downloads.fetch_pretrained(NAME, progress=False)
    assert not fetched.exists() and list(fetched.parent.glob("*.part")) == []
