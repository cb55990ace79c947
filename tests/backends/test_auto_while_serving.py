"""backend auto measuring while it serves (`auto_measure: while_serving`, what `pyml
serve` asks for): on a fresh cache the first answers are Paddle's, computed in the
measuring child; the caller switches to the winner and never loads Paddle itself; a
child that dies is replaced by Paddle in the caller; a model that does not load is an
error at creation, with no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import tritonclient.grpc as triton
from reliability.load import free_port

from pyml.backends import parity
from pyml.models import demo_model_dir
from pyml.serving.client import Client

DEMO_IMAGES = sorted(str(p) for p in (demo_model_dir().parent / "images").glob("*.jpg"))

FRESH_START = """
import json, sys
import numpy as np, psutil
import pyml

images = json.loads(sys.argv[1])
pipeline = pyml.create_pipeline("pyml_demo", auto_measure="while_serving", batch_size=4)
before = pipeline.backend_name
first = list(pipeline.predict(images))
children_while_measuring = len(psutil.Process().children())
assert pipeline._backend.wait_measured(300)
after = [r["scores"] for r in pipeline.predict(images)]
print(json.dumps({
    "before": before, "after": pipeline.backend_name, "choice": pipeline._backend.auto_choice,
    "first": [r["scores"] for r in first], "first_labels": [r["label_names"] for r in first],
    "after_scores": after, "children_while_measuring": children_while_measuring,
    "children_after": len(psutil.Process().children()),
    "loaded": [m for m in ("paddle", "openvino", "onnxruntime") if m in sys.modules],
}))
"""


def _fresh_env(tmp_path) -> dict:
    return {**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")}


def test_a_fresh_start_answers_with_paddle_then_switches_without_loading_paddle(tmp_path):
    env = _fresh_env(tmp_path)
    run = subprocess.run(
        [sys.executable, "-c", FRESH_START, json.dumps(DEMO_IMAGES)], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["before"] == "paddle" and seen["children_while_measuring"] == 1
    assert set(seen["choice"]["ms"]) == {"paddle", "openvino", "onnxruntime"}
    assert seen["after"] == seen["choice"]["winner"] and seen["children_after"] == 0
    assert seen["loaded"] == ([] if seen["after"] == "paddle" else [seen["after"]])  # Paddle only ever in the child

    # the first answers are Paddle's: what a Paddle backend of this process gives, to the
    # parity rule's printed fifth decimal
    import pyml

    paddle = pyml.create_pipeline("pyml_demo", backend="paddle", batch_size=4)
    reference = list(paddle.predict(DEMO_IMAGES))
    assert [r["label_names"] for r in reference] == seen["first_labels"]
    for result, scores in zip(reference, seen["first"]):
        np.testing.assert_allclose(scores, result["scores"], rtol=0, atol=parity.DEFAULT_TOLERANCE.atol)

    # and the choice is remembered: the next start loads the winner without measuring
    again = subprocess.run(
        [sys.executable, "-c", "import pyml; p = pyml.create_pipeline('pyml_demo', batch_size=4, "
         "auto_measure='while_serving'); print(p.backend_name, p._backend.auto_choice['remembered'])"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert again.stdout.split() == [seen["after"], "True"], again.stderr


def _measuring_children(parent: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in parent.children():
        try:
            if "pyml.backends.auto_child" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # gone, or a zombie some other test left to its reaper
            pass
    return found


def _measuring_child(parent: psutil.Process, timeout: float = 120) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := _measuring_children(parent):
            return found[0]
        time.sleep(0.005)
    raise AssertionError("no measuring child appeared")


def test_a_measuring_child_that_dies_is_replaced_by_paddle_in_the_caller(tmp_path):
    script = (
        "import logging, pyml; logging.basicConfig(); "
        "p = pyml.create_pipeline('pyml_demo', auto_measure='while_serving', batch_size=4); "
        f"r = p.predict({DEMO_IMAGES[:2]!r}); print(p.backend_name, [x['label_names'] for x in r])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_fresh_env(tmp_path),
    )  # fmt: skip
    child = _measuring_child(psutil.Process(proc.pid))
    child.send_signal(signal.SIGKILL)  # at birth: it cannot have measured anything yet
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert out.startswith("paddle ["), out
    assert "the measuring process ended with status -9 before choosing a backend" in err
    assert "loading paddle in this process" in err


def test_a_model_the_child_cannot_load_fails_the_creation_and_leaves_no_process(
    tmp_path, unloadable_model, monkeypatch
):
    import pyml
    from pyml.errors import BackendError

    monkeypatch.setenv("PYML_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(BackendError, match=f"Paddle Inference could not load {unloadable_model}"):
        pyml.create_model(model_dir=str(unloadable_model), auto_measure="while_serving")
    deadline = time.monotonic() + 60
    while _measuring_children(psutil.Process()):
        assert time.monotonic() < deadline, "the measuring child outlived the failed creation"
        time.sleep(0.1)


def test_pyml_serve_on_a_fresh_cache_answers_then_reports_the_winner(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyml.cli", "serve", "--pipeline", "digits=pyml_demo", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_fresh_env(tmp_path),
    )  # fmt: skip
    try:
        client = triton.InferenceServerClient(f"127.0.0.1:{port}")
        deadline = time.monotonic() + 180
        while True:
            try:
                if client.is_model_ready("digits"):
                    break
            except triton.InferenceServerException:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.2)
        with Client(f"127.0.0.1:{port}", timeout=120) as pyml_client:
            answers = [r["label_names"] for r in pyml_client.classify(DEMO_IMAGES[:4], model="digits")]
            remembered = tmp_path / "cache" / "auto.json"
            while not remembered.exists():  # the child writes its choice, then the server switches
                assert time.monotonic() < deadline, "the measurement never ended"
                time.sleep(0.2)
            (winner,) = {entry["winner"] for entry in json.loads(remembered.read_text()).values()}
            server = psutil.Process(proc.pid)
            while server.children() or client.get_model_config("digits", as_json=True)["config"]["backend"] != winner:
                assert time.monotonic() < deadline, "the server did not switch to the winner, or kept its child"
                time.sleep(0.2)
            again = [r["label_names"] for r in pyml_client.classify(DEMO_IMAGES[:4], model="digits")]
        assert again == answers
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0


def test_the_measuring_child_ends_when_its_caller_dies(tmp_path):
    script = (
        "import os, psutil, pyml; p = pyml.create_pipeline('pyml_demo', auto_measure='while_serving'); "
        "print([c.pid for c in psutil.Process().children()], flush=True); os._exit(0)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=_fresh_env(tmp_path), timeout=600
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    (child,) = json.loads(run.stdout.splitlines()[-1])
    deadline = time.monotonic() + 60
    while _alive(child):
        assert time.monotonic() < deadline, "the measuring child outlived its caller"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
