"""backend auto's first measurement runs in a child process: the caller loads the winner
only (no loser's runtime in its memory), gets the child's log lines and its errors, and
`pyml warm` makes the choice ahead of time so a later start loads it remembered."""

from __future__ import annotations

import json
import subprocess
import sys

from pyml.models import demo_model_dir
from pyml.serving.options import ServerOptions

RUNTIME_MODULE = {"paddle": "paddle", "openvino": "openvino", "onnxruntime": "onnxruntime"}

LOAD = """
import json, sys
import pyml
pipeline = pyml.create_pipeline("pyml_demo", batch_size=int(sys.argv[1]))
loaded = [m for m in ("paddle", "openvino", "onnxruntime") if m in sys.modules]
print(json.dumps({"winner": pipeline.backend_name, "choice": pipeline._backend.auto_choice, "loaded": loaded}))
"""


def _load(env: dict, batch: int) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", LOAD, str(batch)], capture_output=True, text=True, env=env, timeout=600
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


def test_the_first_measurement_leaves_only_the_winner_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("PYML_CACHE_DIR", str(tmp_path / "cache"))
    import os

    first = _load(dict(os.environ), 2)
    assert set(first["choice"]["ms"]) == {"paddle", "openvino", "onnxruntime"}  # all three were timed...
    assert first["loaded"] == [RUNTIME_MODULE[first["winner"]]]  # ...and only the winner is in this process
    again = _load(dict(os.environ), 2)
    assert again["choice"]["remembered"] and again["winner"] == first["winner"]


def test_pyml_warm_remembers_the_choice_a_server_start_then_loads(tmp_path):
    import os

    env = {**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")}
    model = str(demo_model_dir())
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "warm", "pyml_demo", model], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("pyml_demo: ") and "measured: paddle" in lines[0]
    assert lines[1].startswith(f"{model}: ") and "remembered already" in lines[1]  # the same model: measured once
    assert lines[2] == f"remembered in {tmp_path / 'cache' / 'auto.json'}"
    later = _load(env, ServerOptions.max_batch_size)  # what pyml serve's default batch loads
    assert later["choice"]["remembered"]


def test_a_failed_measurement_is_the_childs_error_in_the_caller(tmp_path, unloadable_model):
    import os

    env = {**os.environ, "PYML_CACHE_DIR": str(tmp_path / "cache")}
    broken = unloadable_model
    run = subprocess.run(
        [sys.executable, "-m", "pyml.cli", "warm", str(broken)], capture_output=True, text=True, env=env, timeout=600
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith(f"pyml: error: Paddle Inference could not load {broken}"), run.stderr
