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

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .batch_output import DryRunOutput, JsonlOutput
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


def save_result(result, layout) -> None:
    try:
        layout.save(result)
    except (InputError, OSError) as exc:
        log.warning("%s: could not save the visualisation: %s", result.input_path, exc)


def metadata_writer(pipeline, mode: str | None, dry_run: bool):
    """The run's MetadataWriter (None without --metadata), recording the model and its version."""
    if mode is None:
        return None
    from .backends.onnx_convert import model_hash
    from .photo_metadata import MetadataWriter

    version = model_hash(pipeline.model.model_file, pipeline.model.params_file)[:12]
    return MetadataWriter(mode, pipeline.model.model_name, version, dry_run=dry_run)


def tag(result, writer):
    """The result as its row, its labels written by `writer` (if any): the row says what
    changed, or, when the write failed (a read-only file, a full disk, a corrupt file), it is
    an error row and the run goes on."""
    if writer is None or result.error is not None:
        return result
    try:
        change = writer.write(result.input_path, result.label_names, result.categories)
    except InputError as exc:
        result["error"] = {"reason": exc.reason, "message": str(exc)}
        return result
    result["metadata"] = change.as_row()
    return result


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
    metadata: str | None = None,
    dry_run: bool = False,
) -> BatchSummary:
    """Classifies every input not yet in `output` with `pipeline` on this machine.
    metadata: "sidecar" or "embed" writes each picture's labels where photo tools read
    them (photo_metadata.py); with dry_run, only says what it would change."""
    inputs = list(inputs)
    names = list_inputs(inputs, from_list)
    layout = save_layout(save_path, names, inputs)
    writer = metadata_writer(pipeline, metadata, dry_run)
    if dry_run:  # a dry run writes nothing, --output included: a later real run must not skip these pictures
        opened = DryRunOutput(output)
    else:
        opened = JsonlOutput(output, resume=resume, overwrite=overwrite, retry_failed=retry_failed)
    with opened as out:
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
                    save_result(result, layout)
                pending.append(tag(result, writer))
                if len(pending) >= batch_size:
                    flush()
            flush()
        finally:
            bar.close()
    return bar.summary(out.path, len(names), skipped, written)
