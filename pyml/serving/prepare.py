"""A model's first-load work in a process of its own at the lowest CPU priority, so it
does not starve the models a server is already serving.

The costly part of loading a model the first time is not loading it: `auto` converts it
to ONNX and times the backends, and both results are cached on disk (onnx_convert.py,
auto.py). This runs that once in a child process under `nice 19`; the server's own load
then finds the caches and costs a model load and a warm-up. A failure here is not
reported: the server's own load meets the same problem and says it.

    python -m pyml.serving.prepare '{"source": ..., "options": {...}}'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NICENESS = 19


def build_pipeline(source, options: dict):
    """The pipeline of a repository version: a PaddleX model directory or a pipeline YAML."""
    from ..registry import create_model, create_pipeline

    if Path(source).is_dir():
        return create_model(model_dir=source, **options)
    return create_pipeline(str(source), **options)


def prepare_in_background(source, options: dict, timeout_s: float = 3600.0) -> bool:
    """Runs build_pipeline(source, options) in a child process at the lowest priority and
    waits for it; True when it succeeded (its caches are then warm)."""
    request = json.dumps({"source": str(source), "options": options})
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pyml.serving.prepare", request],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def main() -> int:
    os.nice(NICENESS)  # first thing: everything after, conversion and timing included, yields the CPU
    request = json.loads(sys.argv[1])
    # measured here, to the end: this process exits next, and its measuring child with it
    build_pipeline(request["source"], {**request["options"], "auto_measure": "before"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
