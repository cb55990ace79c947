"""`backend: auto`: the fastest backend for this model on this machine, by measurement.

At load, on the CPU: every installed backend runs the same seeded batch at the model's
input size; one whose scores differ from Paddle's (the reference) by more than
PARITY_ATOL is rejected, and the fastest of the rest (median of TIMED_RUNS) wins. A
backend that cannot load (not installed, the ONNX conversion fails, the CPU lacks
bf16) is skipped with its reason logged; Paddle is always there to fall back on. The
winner is remembered in `$PYML_CACHE_DIR/auto.json` (default `~/.cache/pyml`) under the
model's hash, the CPU, the thread count, the batch shape, the precision and the
backend versions, so the measurement is made once per machine and model; delete the
file (or name a backend) to measure again. Other devices than the CPU use Paddle.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ..errors import BackendError
from .device import Device
from .onnx_convert import cache_dir, model_hash

log = logging.getLogger(__name__)
CANDIDATES = ("paddle", "openvino", "onnxruntime")
PARITY_ATOL = 1e-5
WARMUP_RUNS = 2
TIMED_RUNS = 7
_DISTRIBUTIONS = {"paddle": "paddlepaddle", "openvino": "openvino", "onnxruntime": "onnxruntime"}


def _version(backend: str) -> str:
    try:
        return metadata.version(_DISTRIBUTIONS[backend])
    except metadata.PackageNotFoundError:
        return "absent"


def cpu_signature() -> str:
    name, flags = platform.processor() or "cpu", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name in ("cpu", platform.processor()):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
                flags = "+".join(f for f in line.split(":", 1)[1].split() if f in wanted)
    except OSError:
        pass
    return f"{name} [{flags}]"


def cache_key(digest: str, threads: int, shape: tuple, precision: str) -> str:
    versions = ",".join(f"{b}={_version(b)}" for b in CANDIDATES)
    return f"{digest}|{cpu_signature()}|threads={threads}|shape={'x'.join(map(str, shape))}|{precision}|{versions}"


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
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(cache, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:  # a read-only home is no reason to fail the load
        log.warning("backend auto: cannot remember the choice in %s: %s", path, exc)


def _median_ms(backend, batch: np.ndarray) -> float:
    for _ in range(WARMUP_RUNS):
        backend(batch)
    times = []
    for _ in range(TIMED_RUNS):
        start = time.perf_counter()
        backend(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(create, shape: tuple, precision: str) -> dict:
    """Loads and times every candidate; returns {"winner", "ms": {...}, "rejected": {...}}."""
    batch = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    loaded, ms, rejected = {}, {}, {}
    reference = None
    for name in CANDIDATES:
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
        elif precision == "fp32":
            diff = float(np.abs(scores - reference).max())
            if not diff <= PARITY_ATOL:
                rejected[name] = f"scores differ from Paddle's by {diff:.2e} (> {PARITY_ATOL:g})"
                log.warning("backend auto: %s rejected: %s", name, rejected[name])
                continue
        loaded[name] = backend
        ms[name] = round(_median_ms(backend, batch), 3)
    winner = min(ms, key=ms.get)
    return {"winner": winner, "ms": ms, "rejected": rejected, "backends": loaded}


def create_auto(model_file: Path, params_file: Path, device: Device, input_shape: tuple = (1, 3, 224, 224),
                cpu_threads: int = 0, precision: str = "fp32", **options):
    from . import create_backend  # noqa: PLC0415 (the registry imports this module)

    def create(name: str):
        return create_backend(name, model_file, params_file, device, cpu_threads=cpu_threads,
                              precision=precision, **options)

    if device.kind != "cpu":
        return create("paddle")
    from .paddle import usable_cores  # noqa: PLC0415

    threads = cpu_threads if cpu_threads > 0 else usable_cores()
    key = cache_key(model_hash(model_file, params_file), threads, tuple(input_shape), precision)
    path = cache_dir() / "auto.json"
    remembered = _read_cache(path).get(key)
    if remembered and remembered.get("winner") in CANDIDATES:
        try:
            backend = create(remembered["winner"])
            log.info("backend auto: %s (remembered in %s)", remembered["winner"], path)
            return backend
        except BackendError as exc:
            log.warning("backend auto: the remembered %s no longer loads (%s); measuring again",
                        remembered["winner"], exc)
    result = measure(create, tuple(input_shape), precision)
    log.info("backend auto: %s wins (%s ms per batch of %s; rejected: %s)", result["winner"],
             result["ms"], "x".join(map(str, input_shape)), result["rejected"] or "none")
    _write_cache(path, key, {k: v for k, v in result.items() if k != "backends"})
    backend = result["backends"][result["winner"]]
    backend.auto_choice = {k: v for k, v in result.items() if k != "backends"}
    return backend
