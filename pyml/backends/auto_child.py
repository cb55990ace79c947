"""`backend: auto`'s first measurement, in a process of its own.

Measuring loads every candidate runtime (Paddle, OpenVINO, ONNX Runtime) and a process
cannot unload a runtime's libraries, so a server that measured in its own process would
keep all of them for good (884 MB against 275 MB when the choice is remembered). Here a
child process converts, compares and times, writes the choice into the cache, and exits;
the caller then loads the winner only.

The job travels through a folder: job.json (paths and options), sample.npy (the batch
to compare and time with); the child writes result.json: the choice, or the error, and
the log records the caller re-emits through its own logging.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import BackendError
from .onnx_convert import converter_missing, find_onnx, onnx_for


class _Records(logging.Handler):
    """Keeps the child's log records for the caller to re-emit."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def measure_in_child(job: dict, sample: np.ndarray) -> dict:
    """Runs `auto.measure` on `job` in a child process; returns its result without the
    loaded backends ({"winner", "ms", "rejected"}). Its progress bar draws on this
    process's stderr; its log records come back through this process's loggers."""
    with tempfile.TemporaryDirectory(prefix="pyml-auto-") as folder:
        work = Path(folder)
        (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
        np.save(work / "sample.npy", sample)
        run = subprocess.run([sys.executable, "-m", "pyml.backends.auto_child", str(work)], stdout=subprocess.DEVNULL)
        result_file = work / "result.json"
        if not result_file.exists():
            raise BackendError(
                f"backend auto: the measuring process ended with status {run.returncode} before choosing a backend; "
                "name one (--backend openvino|onnxruntime|paddle) to skip the measurement"
            )
        result = json.loads(result_file.read_text(encoding="utf-8"))
    for name, level, message in result.pop("log"):
        logging.getLogger(name).log(level, "%s", message)
    if "error" in result:
        raise BackendError(result["error"])
    return result


def _convert_meanwhile(model_file: Path, params_file: Path) -> threading.Thread | None:
    """Starts the ONNX conversion (its own subprocess) while Paddle loads and runs the
    reference: on two cores that overlap takes about a second off a first start."""
    if converter_missing() or find_onnx(model_file, params_file) is not None:
        return None

    def convert() -> None:
        with contextlib.suppress(BackendError):  # the backend that needs the file raises it again, in its row
            onnx_for(model_file, params_file)

    thread = threading.Thread(target=convert, name="pyml-onnx-convert", daemon=True)
    thread.start()
    return thread


def _run(work: Path) -> None:
    from . import auto, create_backend  # noqa: PLC0415 (the child's own imports)
    from .device import parse_device

    job = json.loads((work / "job.json").read_text(encoding="utf-8"))
    sample = np.load(work / "sample.npy")
    records = _Records()
    logging.getLogger("pyml").addHandler(records)
    logging.getLogger("pyml").setLevel(job["log_level"])
    logging.getLogger("pyml").propagate = False  # the caller prints them, once

    model_file, params_file = Path(job["model_file"]), Path(job["params_file"])
    converting = _convert_meanwhile(model_file, params_file) if "paddle" in job["candidates"] else None

    def create(name: str):
        if name != "paddle" and converting is not None:
            converting.join()
        return create_backend(name, model_file, params_file, parse_device("cpu"), **job["options"])

    try:
        result = auto.measure_and_remember(create, sample, job)
        outcome = {key: result[key] for key in ("winner", "ms", "rejected")}
    except BackendError as exc:
        outcome = {"error": str(exc)}
    outcome["log"] = records.records
    atomic_write_text(work / "result.json", json.dumps(outcome))  # whole, or absent if this process dies


if __name__ == "__main__":
    _run(Path(sys.argv[1]))
