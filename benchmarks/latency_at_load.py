"""Latency at half of the maximum throughput, beside PaddleX's basic serving.

For each server (`paddlex --serve`, then `pyml serve --http_port`), on the same 640x480
JPEGs with PaddleX's request JSON (visualize at its default: on):
1. its maximum: 16 callers in a closed loop for `--seconds`;
2. half of that maximum offered in an open loop (requests sent on schedule, whatever
   the answers' pace) for `--seconds`: p50 and p99, counted from the moment each
   request was due.
Beside them, the time of one full batch (8 pictures) of the model alone, on the backend
the server runs (pyml: backend auto's remembered choice; PaddleX: Paddle), timed in a
child process before the servers start. The goal: p99 at half load at most twice that.

    python -m benchmarks.latency_at_load [--model PP-LCNet_x1_0_ML] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.serving_compare import OUT, _pipeline_yaml, run_paddlex, run_pyml_http

CLOSED_LOOP_CALLERS = 16
OPEN_LOOP_POOL = 64  # requests in flight at most: far more than half load ever needs
BATCH = 8

_BATCH_TIME = """
import json, sys
import numpy as np
import pyml
from benchmarks.measure import median_seconds
pipeline = pyml.create_pipeline(sys.argv[1], batch_size=int(sys.argv[2]), backend=sys.argv[3])
size = pipeline.model.input_size
batch = np.random.default_rng(0).standard_normal((int(sys.argv[2]), 3, size[1], size[0])).astype(np.float32)
seconds = median_seconds(lambda: pipeline._backend(batch), repeats=15, warmup=3)
print(json.dumps({"backend": pipeline.backend_name, "ms": seconds * 1000}))
"""


def batch_ms(yaml_path: str, backend: str) -> dict:
    """One batch of BATCH through the model alone, in a process of its own."""
    run = subprocess.run(
        [sys.executable, "-c", _BATCH_TIME, yaml_path, str(BATCH), backend],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    return json.loads(run.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import OUT as RUN_OUT
    from benchmarks.common import ensure_paddlex, export_models, machine
    from benchmarks.suite_images import write_image_set

    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="PP-LCNet_x1_0_ML")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    ensure_paddlex(argv, module="benchmarks.latency_at_load")
    model_dir = export_models([args.model])[args.model]
    images = [Path(path).read_bytes() for path in write_image_set(RUN_OUT / "images")["640x480"]]
    yaml_path = str(_pipeline_yaml(args.model, model_dir, f"    cpu_threads: {args.threads}\n"))
    batches = {"pyml": batch_ms(yaml_path, "auto"), "paddlex": batch_ms(yaml_path, "paddle")}
    print(f"machine: {machine()}; {args.model}, Paddle math threads {args.threads}", flush=True)
    runners = {"paddlex": run_paddlex, "pyml": run_pyml_http}
    rows = {}
    for side, run in runners.items():
        common = (args.model, model_dir, images, args.threads)
        most = run(*common, CLOSED_LOOP_CALLERS, args.seconds, visualize=None)
        rate = most["images_per_s"] / 2
        half = run(*common, OPEN_LOOP_POOL, args.seconds, visualize=None, rate=rate)
        rows[side] = {"max": most, "rate": rate, "half": half, "batch": batches[side]}
        print(f"  {side}: max {most['images_per_s']:.1f}/s; at {rate:.1f}/s: {half}", flush=True)

    print(f"\n{args.model}, 640x480 JPEGs, HTTP + base64 JSON, visualize on; half load = open loop at half the max\n")
    print(
        "| server | max requests/s (16 callers) | offered at half | served | p50 ms | p99 ms "
        "| one batch of 8, model alone | p99 / batch |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for side, row in rows.items():
        half, batch = row["half"], row["batch"]
        print(
            f"| {side} | {row['max']['images_per_s']:.1f} | {row['rate']:.1f} | {half['images_per_s']:.1f} | "
            f"{half['p50_latency_ms']:.0f} | {half['p99_latency_ms']:.0f} | "
            f"{batch['ms']:.0f} ms ({batch['backend']}) | {half['p99_latency_ms'] / batch['ms']:.2f} |"
        )
    (OUT / "latency_at_load.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
