"""Device strings as PaddleX spells them: `cpu`, `gpu`, `gpu:0`, `xpu:1`, `npu:0`, `mlu:0`."""

from __future__ import annotations

from dataclasses import dataclass

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
        raise ConfigError(f"unknown device '{text}': expected one of {', '.join(KNOWN_KINDS)} "
                          "(optionally with ':N', e.g. 'gpu:0')")
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
        raise BackendError(f"backend '{backend}' runs on the CPU here, not on '{device}' "
                           "(use backend paddle for other devices)")
