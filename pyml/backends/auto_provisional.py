"""`backend: auto` measuring while it answers: a server's fresh start.

On a fresh cache, measuring before the first answer costs seconds (converting to ONNX,
loading three runtimes, timing them): twice PaddleX's whole start. A server instead
answers at once with Paddle's answers, computed in the measuring child
(auto_child.py --serve), which owns the only Paddle predictor; when the child has
chosen, this process loads the winner on a background thread and switches to it
between two batches, and the child exits. Paddle never loads in this process, so its
memory after the switch is that of a remembered start. If the child dies before
choosing, Paddle loads here after all (one warning) rather than leave the server
without a backend; if it chose nothing because the model does not load, every batch
gets that error (and a pipeline's first, warm-up batch fails its creation with it).

One provisional backend and its clones share one `_Measuring`; until the switch every
batch goes through the one child, one at a time.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from ..errors import BackendError
from .auto_child import FAILED, SCORES, SHAPE, read_result, write_job

log = logging.getLogger(__name__)
CHILD_EXIT_S = 30.0  # it exits when its batch pipe closes; one that does not is killed
SWITCH_WAIT_S = 600.0  # a batch the dead child could not answer waits this long for the fallback


class _Measuring:
    """The measuring child, the winner once chosen, and the switch between them."""

    def __init__(self, job: dict, sample: np.ndarray, create) -> None:
        self._create = create
        self._work = tempfile.TemporaryDirectory(prefix="pyml-auto-")
        work = Path(self._work.name)
        write_job(work, job, sample)
        batch_read, batch_write = os.pipe()
        score_read, score_write = os.pipe()
        done_read, done_write = os.pipe()
        pipes = f"{batch_read},{score_write},{done_write}"
        self._child = subprocess.Popen(
            [sys.executable, "-m", "pyml.backends.auto_child", str(work), "--serve", pipes],
            pass_fds=(batch_read, score_write, done_write),
            stdout=subprocess.DEVNULL,
        )
        for fd in (batch_read, score_write, done_write):
            os.close(fd)
        self._batches = Connection(batch_write, readable=False)
        self._scores = Connection(score_read, writable=False)
        self._lock = threading.Lock()  # one batch at a time through the child
        self.winner = None
        self.choice: dict | None = None
        self.error: str | None = None  # why there is no winner, once switched without one
        self.switched = threading.Event()
        threading.Thread(target=self._await_choice, args=(done_read,), name="pyml-auto-measure", daemon=True).start()

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Paddle's scores from the child; after the switch, None (the caller uses the winner)."""
        with self._lock:
            if self.winner is not None:
                return None
            try:
                self._batches.send_bytes(SHAPE.pack(*batch.shape))
                self._batches.send_bytes(memoryview(np.ascontiguousarray(batch, np.float32)).cast("B"))
                reply = self._scores.recv_bytes()
            except (EOFError, OSError):
                reply = None
        if reply is None:  # the child is gone: wait for what the measuring thread loads instead
            if not self.switched.wait(SWITCH_WAIT_S) or self.winner is None:
                raise BackendError(self.error or "backend auto: the measuring process ended and nothing replaced it")
            return None
        if reply[:1] == FAILED:
            raise BackendError(reply[1:].decode("utf-8", "replace"))
        rows, cols = SCORES.unpack_from(reply, 1)
        return np.frombuffer(reply, np.float32, rows * cols, 1 + SCORES.size).reshape(rows, cols)

    def _await_choice(self, done_read: int) -> None:
        """The background thread: waits for the child's choice, loads the winner, switches."""
        with os.fdopen(done_read, "rb") as done:
            chosen = done.read(1)  # one byte when chosen; b"" if the child died first
        work = Path(self._work.name)
        choice, winner = None, None
        try:
            choice = read_result(work, None if chosen else self._child.wait())
            winner = self._create(choice["winner"])
            log.info("backend auto: switched to %s (measured while serving)", choice["winner"])
        except BackendError as exc:
            self.error = str(exc)
            if not (work / "result.json").exists():  # died unasked; a model the child could not load stays an error
                winner = self._fallback(exc)
        with self._lock:  # between two batches
            self.winner, self.choice = winner, choice
            self._batches.close()  # the child's cue to exit
        try:
            self._child.wait(CHILD_EXIT_S)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._scores.close()
        self._work.cleanup()
        self.switched.set()  # the child is gone by now

    def _fallback(self, error: BackendError):
        log.warning("backend auto: %s; loading paddle in this process", error)
        try:
            return self._create("paddle")
        except BackendError as exc:
            self.error = f"backend auto: the measuring process died, and paddle does not load here: {exc}"
            log.error("%s", self.error)
            return None


class ProvisionalBackend:
    """Paddle's answers from the measuring child until it has chosen; the winner's after."""

    def __init__(self, measuring: _Measuring, primary: bool = True) -> None:
        self._measuring = measuring
        self._primary = primary  # the first instance takes the winner itself; clones take clones of it
        self._mine = None

    @property
    def name(self) -> str:
        return getattr(self._measuring.winner, "name", "paddle")  # None before the switch: the child's paddle

    @property
    def overlap_preprocess(self) -> bool:
        return getattr(self._measuring.winner, "overlap_preprocess", True)  # this process idles while the child runs

    @property
    def auto_choice(self) -> dict | None:
        return self._measuring.choice

    def wait_measured(self, timeout: float | None = None) -> bool:
        """True once the switch is made and the child is gone."""
        return self._measuring.switched.wait(timeout)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if self._mine is None:
            scores = self._measuring.run(batch)
            if scores is not None:
                return scores
            winner = self._measuring.winner
            self._mine = winner if self._primary else winner.clone()
        return self._mine(batch)

    def clone(self) -> ProvisionalBackend:
        return ProvisionalBackend(self._measuring, primary=False)


def measure_while_answering(job: dict, sample: np.ndarray, create) -> ProvisionalBackend:
    """`create(name)` loads a backend in this process (the winner, or the fallback)."""
    return ProvisionalBackend(_Measuring(job, sample, create))
