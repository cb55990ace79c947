"""`backend: auto` (the default): the fastest backend for this model on this machine,
by measurement.

At load, on the CPU: every installed backend runs the same batch at the model's input
size (the pipeline's sample pictures, or seeded noise); one whose scores fail the
parity rule against Paddle's (`parity.py`, the rule the tests use) is rejected, and
the fastest of the rest wins (median of MIN_ROUNDS to MAX_ROUNDS rounds, as many as
ROUNDS_BUDGET_S allows, in which the candidates take turns, so a burst of load on a
shared machine slows them alike). A
backend that cannot load (not installed, the ONNX conversion fails, the CPU lacks
bf16) is skipped; when only Paddle is left, one warning says why (`backend: paddle` asks for
Paddle outright and measures nothing). The first measurement shows a progress bar on a
terminal: it converts the model to ONNX (seconds to a minute, once per model) and runs
every candidate a few times, in a child process (`auto_child.py`), so that only the
winner is ever loaded in the caller's. The
winner is remembered in `$PYML_CACHE_DIR/auto.json` (default `~/.cache/pyml`) under the
model's hash, the CPU, the thread count, the batch shape, the precision and the
backend versions, so the measurement is made once per machine and model; delete the
file (or name a backend) to measure again. With `measure="while_serving"` (what `pyml
serve` asks for) the first measurement does not delay the first answer: the measuring
child answers with Paddle meanwhile and the caller switches to the winner when it is
chosen (`auto_provisional.py`). Other devices than the CPU use Paddle.
Without Paddle (a plain `pip install pyml`), a model that carries an ONNX file runs on
the ONNX backends, unchecked; one without is an error that names the extra to install.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import BackendError
from ..progress import progress_bar
from . import parity
from .auto_child import measure_in_child
from .auto_provisional import measure_while_answering
from .device import Device, cpu_description, resolve_threads
from .onnx_convert import cache_dir, find_onnx, model_hash
from .paddle import paddle_installed

log = logging.getLogger(__name__)
CANDIDATES = ("paddle", "openvino", "onnxruntime")
WARMUP_RUNS = 1  # after the run that compared the scores: two runs before timing
MIN_ROUNDS, MAX_ROUNDS = 3, 7
ROUNDS_BUDGET_S = 2.0  # past it, no round starts beyond MIN_ROUNDS: a big model's start stays short
_DISTRIBUTIONS = {"paddle": "paddlepaddle", "openvino": "openvino", "onnxruntime": "onnxruntime"}


def _version(backend: str) -> str:
    try:
        return metadata.version(_DISTRIBUTIONS[backend])
    except metadata.PackageNotFoundError:
        return "absent"


def cache_key(digest: str, threads: int, shape: tuple, precision: str) -> str:
    versions = ",".join(f"{b}={_version(b)}" for b in CANDIDATES)
    return f"{digest}|{cpu_description()}|threads={threads}|shape={'x'.join(map(str, shape))}|{precision}|{versions}"


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, key: str, entry: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cache = _read_cache(path)
        cache[key] = entry
        atomic_write_text(path, json.dumps(cache, indent=1, sort_keys=True))
    except OSError as exc:  # a read-only home is no reason to fail the load
        log.warning("backend auto: cannot remember the choice in %s: %s", path, exc)


def median_ms(backends: dict, batch: np.ndarray) -> dict[str, float]:
    """Median milliseconds per backend over MIN_ROUNDS..MAX_ROUNDS rounds (while
    ROUNDS_BUDGET_S lasts), each running every backend once in turn: the winner is
    remembered for good, so a burst of load from a neighbour on a shared machine must not
    land on one candidate's timing only."""
    for backend in backends.values():
        for _ in range(WARMUP_RUNS):
            backend(batch)
    times: dict[str, list[float]] = {name: [] for name in backends}
    budget_ends = time.perf_counter() + ROUNDS_BUDGET_S
    for round_ in range(MAX_ROUNDS):
        if round_ >= MIN_ROUNDS and time.perf_counter() > budget_ends:
            break
        for name, backend in backends.items():
            start = time.perf_counter()
            backend(batch)
            times[name].append(time.perf_counter() - start)
    return {name: round(statistics.median(runs) * 1000, 3) for name, runs in times.items()}


def measure(
    create, batch: np.ndarray, precision: str, model_name: str | None = None, candidates: Iterable[str] = CANDIDATES
) -> dict:
    """Loads and times every candidate (paddle, the reference, first); returns
    {"winner", "ms": {...}, "rejected": {...}, "backends": {...}}."""
    loaded, rejected = {}, {}
    reference = None
    for name in candidates:
        try:
            backend = create(name)
            scores = backend(batch)
        except BackendError as exc:
            if name == "paddle":
                raise
            rejected[name] = str(exc)
            log.info("backend auto: %s skipped: %s", name, exc)
            continue
        if name == "paddle":
            reference = scores
        elif precision == "fp32" and reference is not None:
            report = parity.compare(reference, scores, model_name)
            if not report.ok:
                rejected[name] = report.describe(name)
                log.warning("backend auto: %s rejected: %s", name, report.failure_message(name))
                continue
        loaded[name] = backend
    if not loaded:
        raise BackendError("no backend could run the model: " + "; ".join(f"{n}: {why}" for n, why in rejected.items()))
    ms = median_ms(loaded, batch)
    winner = min(ms, key=ms.get)
    return {"winner": winner, "ms": ms, "rejected": rejected, "backends": loaded}


def _report(result: dict, input_shape: tuple) -> None:
    shape = "x".join(map(str, input_shape))
    if result["winner"] == "paddle" and result["rejected"]:
        reasons = "; ".join(f"{name}: {why}" for name, why in result["rejected"].items())
        log.warning("backend auto: using paddle, the only backend that loaded and matched (%s)", reasons)
    else:
        log.info("backend auto: %s wins (%s ms per batch of %s)", result["winner"], result["ms"], shape)


def _without_paddle(model_file: Path, params_file: Path) -> tuple[str, ...]:
    """A plain `pip install pyml` has ONNX Runtime and no Paddle: a model that carries its
    ONNX file (the demo model does; so do PaddleX's and `pyml convert`'s exports) runs on
    the ONNX-reading backends, unchecked against Paddle, which is not there to check with."""
    onnx_file = find_onnx(model_file, params_file)
    if onnx_file is None:
        raise BackendError(
            f"{Path(model_file).parent} has no ONNX file and Paddle is not installed to run it or convert it: "
            "pip install 'pyml[cpu]'"
        )
    log.info("backend auto: Paddle is not installed; choosing among the ONNX backends for %s", onnx_file)
    return tuple(name for name in CANDIDATES if name != "paddle")


def create_auto(
    model_file: Path,
    params_file: Path,
    device: Device,
    input_shape: tuple = (1, 3, 224, 224),
    cpu_threads: int = 0,
    precision: str = "fp32",
    model_name: str | None = None,
    sample: np.ndarray | None = None,
    measure: str = "before",
    **options,
):
    """`sample`: a preprocessed batch of `input_shape` to compare and time with (seeded
    noise if None); `model_name` picks the parity tolerance; `measure`: for a first use,
    `before` the first answer or `while_serving` (config.AUTO_MEASURE)."""
    from . import create_backend  # noqa: PLC0415 (the registry imports this module)

    def create(name: str):
        return create_backend(
            name, model_file, params_file, device, cpu_threads=cpu_threads, precision=precision, **options
        )

    if device.kind != "cpu":
        return create("paddle")
    if precision == "int8":  # only OpenVINO runs pyml quantize's models: nothing to choose
        return create("openvino")
    threads = resolve_threads(cpu_threads)
    key = cache_key(model_hash(model_file, params_file), threads, tuple(input_shape), precision)
    path = cache_dir() / "auto.json"
    remembered = _read_cache(path).get(key)
    if remembered and remembered.get("winner") in CANDIDATES:
        try:
            backend = create(remembered["winner"])
            log.info("backend auto: %s (remembered in %s)", remembered["winner"], path)
            backend.auto_choice = {**remembered, "remembered": True}
            return backend
        except BackendError as exc:
            log.warning(
                "backend auto: the remembered %s no longer loads (%s); measuring again", remembered["winner"], exc
            )
    if sample is None or tuple(sample.shape) != tuple(input_shape):
        sample = np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)
    names = CANDIDATES if paddle_installed() else _without_paddle(model_file, params_file)
    job = {
        "model_file": str(model_file),
        "params_file": str(params_file),
        "options": {"cpu_threads": cpu_threads, "precision": precision, **options},
        "precision": precision,
        "model_name": model_name,
        "candidates": list(names),
        "input_shape": list(input_shape),
        "cache": str(path),
        "key": key,
        "log_level": log.getEffectiveLevel(),
    }
    if measure == "while_serving" and "paddle" in names:
        return measure_while_answering(job, sample, create)
    choice = measure_in_child(job, sample)  # the losers load there, and leave with that process
    backend = create(choice["winner"])
    backend.auto_choice = choice
    return backend


def measure_and_remember(create, sample: np.ndarray, job: dict) -> dict:
    """The measurement `auto_child` runs: every candidate timed, the winner remembered."""
    desc = "backend auto: first use, converting and timing"
    with progress_bar(len(job["candidates"]), desc, unit="backend", iterable=job["candidates"]) as candidates:
        result = measure(create, sample, job["precision"], job["model_name"], candidates)
    _report(result, tuple(job["input_shape"]))
    _write_cache(Path(job["cache"]), job["key"], {k: v for k, v in result.items() if k != "backends"})
    return result
