"""`pyml client` behaves like the local CLI: arguments are checked before anything is
sent, one image that cannot go is one error line naming it, and the others still run."""

import shutil
import subprocess
import sys

import pytest
from serving_harness import RunningServer

import pyml
from pyml.models import demo_model_dir

DEMO = sorted((demo_model_dir().parent / "images").glob("*.jpg"))[:3]


@pytest.fixture(scope="module")
def server():
    # The server's own limit is 2 MiB, so a client with the default 64 MiB limit sends a
    # 3 MiB image and the server refuses that one call.
    with RunningServer({"digits": pyml.create_pipeline()}, max_message_bytes=2 * 1024 * 1024) as running:
        yield running


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("client")
    for path in DEMO:
        shutil.copy(path, root / path.name)
    big = DEMO[0].read_bytes()
    (root / "digits_99_big.jpg").write_bytes(big + b"\0" * (3 * 1024 * 1024))  # a JPEG with 3 MiB of tail
    return root


def client(server, *args):
    return subprocess.run(
        [sys.executable, "-m", "pyml.cli", "client", "--target", server.target, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("mode", [[], ["--stream"]])
@pytest.mark.parametrize("limit", [[], ["--max_message_mb", "1"]])  # refused by the server, or never sent
def test_one_image_too_large_is_one_line_and_the_others_run(server, folder, mode, limit):
    run = client(server, "--input", str(folder), *mode, *limit)
    assert run.returncode == 1, run.stderr
    assert sorted(
        line.split("'img_path': '")[1].split("'")[0].rsplit("/", 1)[-1] for line in run.stdout.splitlines()
    ) == sorted(p.name for p in DEMO)
    errors = [line for line in run.stderr.splitlines() if line.startswith("pyml: error")]
    assert len(errors) == 1 and "digits_99_big.jpg" in errors[0] and "too_large" in errors[0]
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["--threshold", "3"], "threshold"),
        (["--top_k", "-1"], "top_k must be a positive integer"),
        (["--top_k", "0"], "top_k must be a positive integer"),
        (["--max_message_mb", "0"], "--max_message_mb"),
    ],
)
def test_bad_arguments_are_rc_2_before_anything_is_sent(server, folder, args, says):
    run = client(server, "--input", str(folder), *args)
    assert run.returncode == 2 and says in run.stderr, run.stderr
    assert run.stdout == "" and "Traceback" not in run.stderr


def test_a_refused_image_is_named_once(server, tmp_path):
    from PIL import Image

    bomb = tmp_path / "bomb.png"
    Image.new("L", (20000, 20000)).save(bomb)  # 400 megapixels: over the decoder's limit
    run = client(server, "--input", str(bomb))
    assert run.returncode == 1, run.stderr
    error = run.stderr.strip().splitlines()[-1]
    assert error.startswith(f"pyml: error: {bomb}: PNG image is 20000x20000") and error.count("bomb.png") == 1


def test_pyml_client_command_unary_and_stream(server, tmp_path):
    for extra in ([], ["--stream"]):
        proc = subprocess.run(
            [sys.executable, "-m", "pyml.cli", "client", "--target", server.target, "--input", str(DEMO[0]), *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{{'img_path': '{DEMO[0]}'")
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    proc = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "client", "--target", server.target, "--input", str(tmp_path), "--stream"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "bad.jpg" in proc.stderr and "Traceback" not in proc.stderr
