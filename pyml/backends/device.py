"""Device strings as PaddleX spells them (`cpu`, `gpu`, `gpu:0`, `xpu:1`, `npu:0`, `mlu:0`), and
what the CPU offers: usable cores, thread settings, its model and instruction flags."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .. import _native
from ..errors import ConfigError

KNOWN_KINDS = ("cpu", "gpu", "xpu", "npu", "mlu", "dcu")


@dataclass(frozen=True)
class Device:
    kind: str
    index: int = 0

    def __str__(self) -> str:
        return self.kind if self.kind == "cpu" else f"{self.kind}:{self.index}"


def parse_device(text: str | None) -> Device:
    """`None` means cpu. Raises ConfigError naming the string for anything malformed."""
    if text is None:
        return Device("cpu")
    if not isinstance(text, str):
        raise ConfigError(f"device must be a string such as 'cpu' or 'gpu:0', not {text!r}")
    kind, sep, index = text.strip().lower().partition(":")
    if kind not in KNOWN_KINDS:
        raise ConfigError(
            f"unknown device '{text}': expected one of {', '.join(KNOWN_KINDS)} (optionally with ':N', e.g. 'gpu:0')"
        )
    if kind == "cpu":
        if sep:
            raise ConfigError(f"device '{text}': cpu takes no index")
        return Device("cpu")
    if not sep:
        return Device(kind, 0)
    if not index.isdigit():
        raise ConfigError(f"device '{text}': the index after ':' must be a non-negative integer")
    return Device(kind, int(index))


def require_cpu(backend: str, device: Device) -> None:
    """The ONNX-reading backends run on the CPU only; other devices go through Paddle."""
    from ..errors import BackendError

    if device.kind != "cpu":
        raise BackendError(
            f"backend '{backend}' runs on the CPU here, not on '{device}' (use backend paddle for other devices)"
        )


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask, capped by its cgroup's CPU
    quota (a container's --cpus). The native core's rule, so Python's threads and the
    C++ pools count alike (csrc/src/thread_pool.cpp)."""
    return _native.usable_cores()


def resolve_threads(cpu_threads: int) -> int:
    """A thread-count setting: 0 (or less) means one thread per usable core."""
    return cpu_threads if cpu_threads > 0 else usable_cores()


# The instruction sets that change which kernels the runtimes pick.
RELEVANT_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


@lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset, str]:
    """(model name, flags, vendor id) of the first CPU in /proc/cpuinfo."""
    name, flags, vendor = platform.processor() or "unknown CPU", frozenset(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name in ("unknown CPU", platform.processor()):
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = frozenset(value.split())
            elif key.strip() == "vendor_id" and not vendor:
                vendor = value.strip()
    except OSError:  # not Linux: the name only
        pass
    return name, flags, vendor


def prepare_mkl() -> None:
    """Lets Intel MKL use its AVX2 kernels on AMD CPUs. Paddle's CPU build computes dynamic-graph
    matmuls and convolutions with MKL (mklml), which on a CPU not made by Intel falls back to
    generic code unless MKL_DEBUG_CPU_TYPE=5 is set before it loads: on this project's AMD
    EPYC a [3136, 768] x [768, 768] matmul took 279 ms without it and 42-58 ms with it
    (numpy with OpenBLAS: 50 ms), and a training step of the ML-Decoder head 2.7x less time.
    A value the user set wins; Intel CPUs are left alone."""
    if _cpuinfo()[2] == "AuthenticAMD":
        os.environ.setdefault("MKL_DEBUG_CPU_TYPE", "5")


def cpu_flags() -> frozenset:
    return _cpuinfo()[1]


def cpu_has_bf16() -> bool:
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def cpu_description() -> str:
    """The CPU model and its relevant flags, e.g. `AMD EPYC [avx2 avx512f avx512_bf16]`."""
    name, flags, _ = _cpuinfo()
    present = [flag for flag in RELEVANT_FLAGS if flag in flags]
    return f"{name} [{' '.join(present) or 'no avx2'}]"
