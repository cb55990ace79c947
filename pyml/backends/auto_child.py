"""`backend: auto`'s first measurement, in a process of its own.

Measuring loads every candidate runtime (Paddle, OpenVINO, ONNX Runtime) and a process
cannot unload a runtime's libraries, so a server that measured in its own process would
keep all of them for good (884 MB against 275 MB when the choice is remembered). Here a
child process converts, compares and times, writes the choice into the cache, and exits;
the caller then loads the winner only.

The job travels through a folder: job.json (paths and options), sample.npy (the batch
to compare and time with); the child writes result.json: the choice, or the error, and
the log records the caller re-emits through its own logging.

Started with `--serve`, the child also answers the caller's batches with a Paddle
predictor of its own while it measures (auto_provisional.py is the caller's side), so a
server answers Paddle's answers in seconds on a fresh cache and still never loads Paddle
itself. Three pipes: batches in, scores out (one reply per batch, in order), and one
byte when result.json is written. The child answers until the batch pipe closes: the
caller closes it after switching, and its death closes it too (not PR_SET_PDEATHSIG,
which would fire when the thread that started the child ends, not the process).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
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
        write_job(work, job, sample)
        run = subprocess.run([sys.executable, "-m", "pyml.backends.auto_child", str(work)], stdout=subprocess.DEVNULL)
        return read_result(work, run.returncode)


def write_job(work: Path, job: dict, sample: np.ndarray) -> None:
    (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
    np.save(work / "sample.npy", sample)


def read_result(work: Path, status: int | None) -> dict:
    """The child's choice; its log records re-emitted here; its error raised as ours."""
    result_file = work / "result.json"
    if not result_file.exists():
        raise BackendError(
            f"backend auto: the measuring process ended with status {status} before choosing a backend; "
            "name one (--backend openvino|onnxruntime|paddle) to skip the measurement"
        )
    result = json.loads(result_file.read_text(encoding="utf-8"))
    for name, level, message in result.pop("log"):
        logging.getLogger(name).log(level, "%s", message)
    if "error" in result:
        raise BackendError(result["error"])
    return result


# The batch pipe: a header message (the batch's 4 dimensions), then the float32 data.
# The score pipe: OK + (rows, cols) + float32 data, or FAILED + the error's text.
SHAPE = struct.Struct("<4q")
SCORES = struct.Struct("<2q")
OK, FAILED = b"\0", b"\1"


class _Answering:
    """The child's answering thread: Paddle's scores for each batch the caller sends,
    from a predictor of its own (a clone of the measurement's reference, sharing its
    weights), so the answers never wait for a timing round to end."""

    def __init__(self, batch_fd: int, score_fd: int) -> None:
        self._batches = Connection(batch_fd, writable=False)
        self._scores = Connection(score_fd, readable=False)
        self._backend = None
        self._error = "Paddle did not load"
        self._ready = threading.Event()

    def offer(self, backend) -> None:
        self._backend = backend
        self._ready.set()

    def fail(self, error: str) -> None:
        self._error = error
        self._ready.set()

    def serve(self) -> None:
        while True:
            try:
                shape = SHAPE.unpack(self._batches.recv_bytes())
                data = self._batches.recv_bytes()
            except (EOFError, OSError):
                os._exit(0)  # the caller has switched to the winner, or died: nothing left to do here
            self._ready.wait()
            try:
                if self._backend is None:
                    raise BackendError(self._error)
                scores = np.ascontiguousarray(self._backend(np.frombuffer(data, np.float32).reshape(shape)), np.float32)
                reply = OK + SCORES.pack(*scores.shape) + scores.tobytes()
            except Exception as exc:  # noqa: BLE001 (the caller's batch gets the error; this process goes on)
                reply = FAILED + str(exc).encode("utf-8", "replace")
            try:
                self._scores.send_bytes(reply)
            except OSError:
                os._exit(0)


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


def _run(work: Path, pipes: tuple[int, int, int] | None = None) -> None:
    from . import auto, create_backend  # noqa: PLC0415 (the child's own imports)
    from .device import parse_device

    answering = None
    if pipes is not None:
        answering = _Answering(pipes[0], pipes[1])
        threading.Thread(target=answering.serve, name="pyml-auto-answer", daemon=True).start()
    job = json.loads((work / "job.json").read_text(encoding="utf-8"))
    sample = np.load(work / "sample.npy")
    records = _Records()
    logging.getLogger("pyml").addHandler(records)
    logging.getLogger("pyml").setLevel(job["log_level"])
    logging.getLogger("pyml").propagate = False  # the caller prints them, once

    model_file, params_file = Path(job["model_file"]), Path(job["params_file"])
    # Answering, the conversion waits: beside Paddle's load it delays the first answer by a
    # second on two cores (the backend that needs the ONNX file converts when it loads).
    converting = _convert_meanwhile(model_file, params_file) if "paddle" in job["candidates"] and not pipes else None

    def create(name: str):
        if name != "paddle" and converting is not None:
            converting.join()
        try:
            backend = create_backend(name, model_file, params_file, parse_device("cpu"), **job["options"])
        except BackendError as exc:
            if name == "paddle" and answering is not None:
                answering.fail(str(exc))
            raise
        if name == "paddle" and answering is not None:
            answering.offer(backend.clone())
        return backend

    try:
        result = auto.measure_and_remember(create, sample, job)
        outcome = {key: result[key] for key in ("winner", "ms", "rejected")}
    except BackendError as exc:
        outcome = {"error": str(exc)}
    outcome["log"] = records.records
    atomic_write_text(work / "result.json", json.dumps(outcome))  # whole, or absent if this process dies
    if answering is not None:  # a Paddle that failed has told the answering thread already (create)
        os.write(pipes[2], b"1")  # measured: the caller loads the winner while this goes on answering
        threading.Event().wait()  # until the caller closes the batch pipe (the answering thread exits)


if __name__ == "__main__":
    _run(Path(sys.argv[1]), tuple(map(int, sys.argv[3].split(","))) if sys.argv[2:3] == ["--serve"] else None)
