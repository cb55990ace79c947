"""The batch job as a Ray Data pipeline, for collections one machine cannot tag in time.

    driver: list inputs, drop those already in the output
      -> ray.data.from_items(names)            blocks of names, 4 inference batches each
      -> map_batches(Tagger, actor pool)       one pyml pipeline per actor, --cpus_per_worker
                                               each; it reads its block's files (or URLs) itself
      -> driver: iter_batches -> JsonlOutput   one file, rows deduplicated by img_path

The output is a single JSONL file written by the driver, the same file and row form
as the single-machine job: resume reads it back, and a batch that Ray runs twice
(an actor died after answering) is written once. Rows arrive in completion order.
Worker nodes need pyml installed and must see the same paths (model dir, pipeline
YAML, input files, --save_path) as the driver: a shared file system, or URLs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .batch import BatchSummary, Progress, list_inputs, metadata_writer, save_layout, save_result, tag
from .batch_output import JsonlOutput, encode_row
from .errors import ConfigError

log = logging.getLogger(__name__)
BATCHES_PER_BLOCK = 4  # inference batches per Ray block: enough for reading to overlap inference


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"running on Ray needs Ray Data: pip install 'pyml[ray]' (import failed: {exc})") from exc
    return ray


def native_log_path() -> Path:
    """Where Ray's C++ lines from this process go unless --verbose (one file per user)."""
    return Path(tempfile.gettempdir()) / f"pyml-ray-driver-{os.getuid()}.log"


@contextlib.contextmanager
def ray_native_lines_to_log():
    """Ray's C++ core worker in this (driver) process writes to file descriptor 2 itself
    (`logging.cc: Set ray log level ...`, `core_worker.cc: Actor ... max_restarts > 0`),
    whatever RAY_BACKEND_LOG_LEVEL says. For the time Ray runs, descriptor 2 points at
    a log file and Python's stderr (pyml's bar, warnings and errors) at a copy of the
    terminal, so the user sees pyml's lines only. With --verbose nothing is moved."""
    if log.isEnabledFor(logging.INFO):
        yield
        return
    sys.stderr.flush()
    python_stderr = sys.stderr
    terminal = os.dup(2)
    with open(native_log_path(), "ab") as native_log:
        os.dup2(native_log.fileno(), 2)
    sys.stderr = open(terminal, "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace")  # noqa: SIM115
    moved = [h for h in logging.root.handlers if getattr(h, "stream", None) is python_stderr]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(sys.stderr.fileno(), 2)
        for handler in moved:
            handler.setStream(python_stderr)
        sys.stderr.close()
        sys.stderr = python_stderr


class Tagger:
    """A Ray Data actor holding one pipeline; turns a block of image names into JSON rows."""

    def __init__(
        self, pipeline: str, overrides: dict[str, Any], threshold: Any, top_k: int | None, layout, metadata=None
    ) -> None:
        from .registry import create_pipeline

        self.pipeline = create_pipeline(pipeline, **overrides)
        # Each actor writes the metadata of the pictures it classified; a block Ray runs
        # twice finds pyml's keywords already there and writes nothing the second time.
        self.writer = metadata_writer(self.pipeline, metadata, dry_run=False)
        self.threshold, self.top_k = threshold, top_k
        self.layout = layout  # the driver's SaveLayout (or None): every actor saves to the same places

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # The actor reads its own files: predict() overlaps reading and preprocessing
        # with inference, and image bytes never pass through the object store.
        results = list(
            self.pipeline.predict(
                [str(name) for name in batch["item"]], threshold=self.threshold, top_k=self.top_k, on_error="return"
            )
        )
        if self.layout is not None:
            for result in results:
                if result.error is None:
                    save_result(result, self.layout)
        names, rows, failed = zip(*(encode_row(tag(result, self.writer)) for result in results))
        return {
            "img_path": np.array(names, dtype=object),
            "row": np.array(rows, dtype=object),
            "failed": np.array(failed, dtype=bool),
        }


_WATCHDOGS: list[subprocess.Popen] = []


def _watch_local_cluster(ray) -> None:
    """A watchdog that stops this driver's local cluster if the driver is killed
    (pyml/ray_watchdog.py); in a session of its own, so a signal to the driver's
    process group does not reach it."""
    try:
        session = ray._private.worker._global_node.session_name
    except AttributeError:  # another Ray version: no watchdog, Ray's own clean-up only
        log.info("ray: no session name found; the local cluster has no watchdog")
        return
    _WATCHDOGS.append(
        subprocess.Popen(  # kept: it outlives this call, and should outlive the driver
            [sys.executable, "-m", "pyml.ray_watchdog", str(os.getpid()), session],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    )


def _connect(ray, address: str | None, local_cpus: int | None) -> None:
    if not log.isEnabledFor(logging.INFO):  # Ray's notices are for --verbose only
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # Ray's C++ core worker logs its warnings to stderr (e.g. core_worker.cc on actor
        # restarts), in the middle of the progress bar; a level the user set wins.
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    options = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.INFO if log.isEnabledFor(logging.INFO) else logging.ERROR,
    )
    if address:
        try:
            ray.init(address=address, **options)
        except ConnectionError as exc:  # Ray's message names its own flags, not pyml's
            raise ConfigError(
                f"--ray {address}: no Ray cluster to connect to ({str(exc).splitlines()[0].split('.')[0]}); "
                "start one (ray start --head) and give its address (--ray HOST:6379), or run a cluster "
                "of this machine's own with --ray_local N"
            ) from None
    else:
        # "local" starts a new cluster even where one already runs on this machine
        ray.init(address="local", num_cpus=local_cpus, object_store_memory=512 * 1024 * 1024, **options)
        _watch_local_cluster(ray)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # pyml draws one bar, for rows written
    context.print_on_execution_start = False


def _settle_backend(pipeline: str | Path, overrides: dict[str, Any]) -> None:
    """On a local cluster, loads the pipeline once in the driver with the actors' settings:
    `backend: auto`'s first measurement (ONNX conversion, timing) then happens once and
    uncontended, and every actor finds the choice remembered; a model or config problem
    is one error before Ray starts. (On a remote cluster the workers' CPUs are not the
    driver's, so each node measures for itself.)"""
    from .registry import create_pipeline

    create_pipeline(pipeline, **overrides)


def run_batch_on_ray(
    pipeline: str | Path,
    inputs: Iterable[str],
    output: str | Path,
    address: str | None = None,
    local_cpus: int | None = None,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    from_list: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    retry_failed: bool = False,
    batch_size: int | None = None,
    threshold: Any = None,
    top_k: int | None = None,
    save_path: str | None = None,
    progress: bool = True,
    metadata: str | None = None,
    dry_run: bool = False,
    **overrides: Any,
) -> BatchSummary:
    """The batch job on a Ray cluster (`address`, e.g. 'auto', 'HOST:6379' or 'ray://HOST:10001')
    or on a local one this call starts with `local_cpus` CPUs; `workers` actors (default:
    the cluster's CPUs / cpus_per_worker), each with a pipeline using cpus_per_worker threads."""
    if (address is None) == (local_cpus is None):
        raise ConfigError("give exactly one of a Ray address (--ray) or a local worker count (--ray_local)")
    if cpus_per_worker < 1:
        raise ConfigError(f"cpus_per_worker must be >= 1, not {cpus_per_worker}")
    if dry_run:
        raise ConfigError("--dry_run runs on this machine: leave out --ray / --ray_local")
    ray = _import_ray()
    inputs = list(inputs)
    names = list_inputs(inputs, from_list)
    layout = save_layout(save_path, names, inputs)
    batch_size = batch_size or 8
    overrides = {k: v for k, v in overrides.items() if v is not None}
    overrides.update(cpu_threads=cpus_per_worker, preprocess_threads=cpus_per_worker, batch_size=batch_size)
    with (
        JsonlOutput(output, resume=resume, overwrite=overwrite, retry_failed=retry_failed) as out,
        ray_native_lines_to_log(),
    ):
        todo = [n for n in names if n not in out.done]
        skipped = len(names) - len(todo)
        written = 0
        bar = Progress(len(todo), skipped, enabled=progress)
        if todo:
            if local_cpus is not None:
                _settle_backend(pipeline, overrides)
            _connect(ray, address, local_cpus)
            try:
                cluster_cpus = int(ray.cluster_resources().get("CPU", 1))
                block = batch_size * BATCHES_PER_BLOCK
                blocks = -(-len(todo) // block)
                # no more actors than blocks: an idle actor only costs its start-up
                workers = min(workers or max(1, cluster_cpus // cpus_per_worker), blocks)
                log.info("ray: %d CPUs in the cluster, %d workers of %d CPU", cluster_cpus, workers, cpus_per_worker)
                dataset = ray.data.from_items(todo, override_num_blocks=blocks).map_batches(
                    Tagger,
                    batch_size=block,
                    num_cpus=cpus_per_worker,
                    compute=ray.data.ActorPoolStrategy(size=workers),
                    fn_constructor_kwargs=dict(
                        pipeline=str(pipeline),
                        overrides=overrides,
                        threshold=threshold,
                        top_k=top_k,
                        layout=layout,
                        metadata=metadata,
                    ),
                )
                for block in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                    count, failed = out.write_encoded(zip(block["img_path"], block["row"], block["failed"]))
                    written += count
                    bar.step(count, failed)
            finally:
                bar.close()
                ray.shutdown()
        else:
            bar.close()
    return bar.summary(out.path, len(names), skipped, written)
