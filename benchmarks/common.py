"""What the benchmarks share: where they write, the CPU line every table prints, the
architecture exports they measure, and the PaddleX environment they compare against.
`run.py` only orchestrates the suite; every benchmark imports from here."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from pyml.backends.device import cpu_description

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"


def cpu() -> str:
    return f"{cpu_description()}, {os.cpu_count()} logical cores, {platform.system()}"


def machine() -> str:
    """The CPU with the flags that decide the backends' speed (avx512_bf16 / AMX), and RAM."""
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except OSError:
        mem = 0.0
    return f"{cpu()}, {mem:.0f} GiB RAM, kernel {platform.release()}"


def ensure_paddlex(argv: list[str], module: str = "benchmarks.run") -> None:
    """Returns when PaddleX is importable; else makes its venv and re-runs `module` in it."""
    try:
        import paddlex  # noqa: F401

        return
    except ImportError:
        pass
    print("benchmarks: PaddleX is not importable here; setting up build/paddlex-venv", file=sys.stderr)
    python = subprocess.check_output(["bash", str(ROOT / "benchmarks" / "setup_paddlex.sh")], text=True)
    python = str(ROOT / python.strip().splitlines()[-1])
    os.chdir(ROOT)
    os.execv(python, [python, "-m", module, *argv])


def export_models(names: list[str]) -> dict[str, str]:
    from tools.export_arch import export

    dirs = {}
    for name in names:
        target = OUT / "models" / name
        if not (target / "inference.yml").exists():
            print(f"benchmarks: exporting {name} (once)", file=sys.stderr)
            export(name, target, seed=0)
        dirs[name] = str(target)
    return dirs


__all__ = ["OUT", "ROOT", "cpu", "ensure_paddlex", "export_models", "machine"]
