"""Tagging large collections: one JSON line per image, appended in batches, resumable.

    inputs (files, folders, list files) -> names -> skip those already in the output
        -> pipeline.predict (reading, preprocessing and inference overlap) -> JSONL rows

A row is the printed result (`img_path`, `class_ids`, `scores`, `label_names`) plus
`error` for an image that failed. Rows are written a batch at a time with one
write() each, so a killed run loses at most the batch in flight, and a torn last
line (a kill inside that write) is cut off on `resume`. The same writer serves the
Ray runner (`pyml.batch_ray`), which is why dedup by `img_path` lives here.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_bytes
from .errors import ConfigError, InputError, count
from .inputs import image_files
from .results import SaveLayout

log = logging.getLogger(__name__)


# -- listing ---------------------------------------------------------------


def _expand(item: str) -> Iterator[str]:
    if item.startswith(("http://", "https://")):
        yield item
        return
    path = Path(item).expanduser()  # the name the pipeline reports it under (./a.jpg -> a.jpg)
    if path.is_dir():
        files = image_files(path)
        if not files:
            yield str(path)  # classified, it becomes an error row saying the folder has no images
        yield from (str(p) for p in files)
    else:
        yield str(path)  # a missing file becomes an error row naming it


def read_list_file(path: str | Path) -> list[str]:
    """Paths or URLs, one per line; blank lines and lines starting with '#' are skipped."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the input list: {exc.strerror or exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def list_inputs(inputs: Iterable[str], from_list: str | Path | None = None) -> list[str]:
    """Every image name the job covers, in order, each once: files as given, folders
    walked recursively (sorted), list-file lines as they are (folders in them walked too)."""
    items = list(inputs) + (read_list_file(from_list) if from_list else [])
    if not items:
        raise ConfigError("no inputs: give files, folders or --from_list FILE")
    seen: dict[str, None] = {}
    for item in items:
        for name in _expand(str(item)):
            seen.setdefault(name, None)
    return list(seen)


# -- the output file -------------------------------------------------------


def encode_row(row: dict) -> tuple[str, str, bool]:
    """A result as the output file holds it: its name, its JSON line, whether it failed."""
    return row["img_path"], json.dumps(row, ensure_ascii=False), "error" in row


class JsonlOutput:
    """The result file: reads back what a previous run wrote, appends the rest.

    A line is only ever written whole, ending in a newline, in one write() of a whole
    batch; what follows the last newline after a kill is a torn line and is cut off.
    A name already written is never written again (Ray may run a batch twice).
    With retry_failed (and resume), the rows whose attempt failed are taken out of the
    file first (rewritten whole, then renamed into place), so those images run again
    and each image is in the file once.
    """

    def __init__(
        self, path: str | Path, resume: bool = False, overwrite: bool = False, retry_failed: bool = False
    ) -> None:
        self.path = Path(path).expanduser()
        self.done: set[str] = set()
        self.failed_before = 0
        self.retried = 0  # failed rows taken out to run again
        if retry_failed and not resume:
            raise ConfigError("--retry_failed goes with --resume: it retries the failures of an earlier run")
        if self.path.is_dir():
            raise ConfigError(f"{self.path}: --output is a folder; give a file name such as results.jsonl")
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not (resume or overwrite):
            raise ConfigError(
                f"{self.path} already holds results: pass --resume to go on from "
                "where it stopped, or --overwrite to start again"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if exists and resume:
            self._recover(retry_failed)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if overwrite and not resume else 0)
        self._fd = os.open(self.path, flags, 0o644)

    def _recover(self, retry_failed: bool) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            log.warning(
                "%s: cutting off a torn last line (%d bytes) left by an interrupted run", self.path, len(data) - end
            )
            os.truncate(self.path, end)
        kept: list[bytes] = []
        for number, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                name = row["img_path"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"{self.path}:{number}: not a pyml result row ({exc}); is this the right --output file?"
                ) from exc
            if retry_failed and "error" in row:
                self.retried += 1
                continue
            kept.append(line + b"\n")
            self.done.add(name)
            self.failed_before += "error" in row
        if self.retried:
            self._rewrite(b"".join(kept))

    def _rewrite(self, data: bytes) -> None:
        """Replaces the file's content atomically: a kill leaves the old file or the new one."""
        atomic_write_bytes(self.path, data)

    def write(self, rows: Iterable[dict]) -> tuple[int, int]:
        """Appends the rows not written yet; returns how many it wrote, and how many of those failed."""
        return self.write_encoded(encode_row(row) for row in rows)

    def write_encoded(self, rows: Iterable[tuple[str, str, bool]]) -> tuple[int, int]:
        """write() for rows already in JSON: (img_path, JSON text, failed) each, as Ray's
        workers send them, so the driver neither parses nor re-encodes them."""
        lines, failed = [], 0
        for name, text, row_failed in rows:
            if name in self.done:
                continue
            self.done.add(name)
            lines.append(text + "\n")
            failed += bool(row_failed)
        if lines:
            payload = "".join(lines).encode("utf-8")
            written = 0
            while written < len(payload):  # os.write may write less than asked (a full disk says so)
                written += os.write(self._fd, payload[written:])
        return len(lines), failed

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlOutput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- progress --------------------------------------------------------------


class Progress:
    """A tqdm bar on stderr: rate, ETA and failures so far."""

    def __init__(self, total: int, already: int, enabled: bool = True) -> None:
        from .progress import progress_bar

        self.failed = 0
        self.started = time.perf_counter()
        self.first: tuple[float, int] | None = None  # when the first rows were written, and how many
        self.bar = progress_bar(
            total,
            "pyml batch" + (f" (resumed, {already} done before)" if already else ""),
            enabled=enabled,
            mininterval=0.5,
            smoothing=0.1,
        )
        self.bar.set_postfix(failed=0, refresh=False)

    def step(self, written: int, failed: int) -> None:
        if written and self.first is None:
            self.first = (time.perf_counter(), written)
        if failed:
            self.failed += failed
            self.bar.set_postfix(failed=self.failed, refresh=False)
        self.bar.update(written)

    def close(self) -> None:
        self.bar.close()
        self.ended = time.perf_counter()

    def summary(self, output: Path, total: int, skipped: int, written: int) -> BatchSummary:
        startup = steady = 0.0
        if self.first is not None:
            startup = self.first[0] - self.started
            if self.ended > self.first[0] and written > self.first[1]:
                steady = (written - self.first[1]) / (self.ended - self.first[0])
        return BatchSummary(output, total, skipped, written, self.failed, self.ended - self.started, startup, steady)


@dataclass
class BatchSummary:
    output: Path
    total: int  # inputs the job covers
    skipped: int  # already in the output before this run
    written: int
    failed: int  # failed rows written by this run
    seconds: float
    startup_s: float = 0.0  # until the first rows were written (model load; on Ray, cluster and actors)
    steady_rate: float = 0.0  # images/s from the first written rows to the end

    @property
    def rate(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        resumed = f", {self.skipped} were already done" if self.skipped else ""
        return (
            f"pyml batch: {count(self.written, 'image')} in {self.seconds:.1f} s ({self.rate:.1f} img/s), "
            f"{self.failed} failed{resumed}; results in {self.output}"
        )


# -- the job ---------------------------------------------------------------


def _save(result, layout) -> None:
    try:
        layout.save(result)
    except (InputError, OSError) as exc:
        log.warning("%s: could not save the visualisation: %s", result.input_path, exc)


def save_layout(save_path: str | None, names: list[str], inputs: Iterable[str]) -> SaveLayout | None:
    """The run's save layout, from its whole input list (the same in every process)."""
    return SaveLayout(save_path, names, folders=list(inputs)) if save_path else None


def run_batch(
    pipeline,
    inputs: Iterable[str],
    output: str | Path,
    from_list: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    retry_failed: bool = False,
    batch_size: int | None = None,
    threshold=None,
    top_k: int | None = None,
    save_path: str | None = None,
    progress: bool = True,
) -> BatchSummary:
    """Classifies every input not yet in `output` with `pipeline` on this machine."""
    inputs = list(inputs)
    names = list_inputs(inputs, from_list)
    layout = save_layout(save_path, names, inputs)
    with JsonlOutput(output, resume=resume, overwrite=overwrite, retry_failed=retry_failed) as out:
        todo = [n for n in names if n not in out.done]
        skipped = len(names) - len(todo)
        batch_size = pipeline.config.with_overrides(batch_size=batch_size).batch_size
        bar = Progress(len(todo), skipped, enabled=progress)
        written = 0
        pending: list[dict] = []

        def flush() -> None:
            nonlocal written
            count, failed = out.write(pending)
            written += count
            bar.step(count, failed)
            pending.clear()

        try:
            for result in pipeline.predict(
                todo, batch_size=batch_size, threshold=threshold, top_k=top_k, on_error="return"
            ):
                if layout is not None and result.error is None:
                    _save(result, layout)
                pending.append(result)
                if len(pending) >= batch_size:
                    flush()
            flush()
        finally:
            bar.close()
    return bar.summary(out.path, len(names), skipped, written)
