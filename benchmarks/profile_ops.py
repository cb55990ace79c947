"""Where a model's time goes inside OpenVINO: per operator type and per kernel, from
OpenVINO's own performance counters, on a batch at the model's input size.

    python -m benchmarks.profile_ops --model CLIP_vit_base_patch16_448_ML [--batch 8] [--runs 5]

The model is the suite's seeded export (benchmarks/out/models, made if missing),
converted to ONNX as pyml's backends convert it. The table shows each operator type's
share of the summed operator time, the kernels that ran it (`exec_type`: brgconv_avx512,
jit_avx512, ... or `ref_*`, a reference kernel, the slow fallback) and the summed time
against the wall time of a run (the gap is what runs between operators).
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time

import numpy as np

from benchmarks.common import export_models, machine
from pyml.backends.device import resolve_threads
from pyml.backends.onnx_convert import onnx_for
from pyml.model_dir import load_model_dir


def profile(model_dir: str, batch: int, runs: int, precision: str) -> tuple[list[tuple], float, float]:
    import openvino as ov

    spec = load_model_dir(model_dir)
    size = spec.input_size or (spec.preprocess["short_side"],) * 2
    core = ov.Core()
    config = {
        "PERF_COUNT": True,
        "INFERENCE_NUM_THREADS": resolve_threads(0),
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
    }
    compiled = core.compile_model(str(onnx_for(spec.model_file, spec.params_file)), "CPU", config)
    request = compiled.create_infer_request()
    data = np.random.default_rng(0).standard_normal((batch, 3, size[1], size[0])).astype(np.float32)
    request.infer({0: data})  # first run: kernels made; not counted
    by_type: dict[str, list[float]] = collections.defaultdict(list)
    kernels: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        request.infer({0: data})
        walls.append(time.perf_counter() - start)
        totals: dict[str, float] = collections.defaultdict(float)
        for info in request.profiling_info:
            if info.status != info.Status.EXECUTED:
                continue
            ms = info.real_time.total_seconds() * 1000
            totals[info.node_type] += ms
            kernels[info.node_type][info.exec_type] += ms
        for node_type, ms in totals.items():
            by_type[node_type].append(ms)
    rows = sorted(((t, statistics.median(v), kernels[t]) for t, v in by_type.items()), key=lambda r: -r[1])
    return rows, sum(r[1] for r in rows), statistics.median(walls) * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="+", default=["CLIP_vit_base_patch16_448_ML", "PP-HGNetV2-B6_ML"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--top", type=int, default=8)
    args = p.parse_args()
    print(f"machine: {machine()}")
    dirs = export_models(args.model)
    for name in args.model:
        rows, summed, wall = profile(dirs[name], args.batch, args.runs, args.precision)
        print(f"\n{name}, batch {args.batch}, {args.precision}: wall {wall:.0f} ms a run, operators {summed:.0f} ms\n")
        print("| operator type | ms | share | kernels (share of the type's time) |")
        print("|---|---:|---:|---|")
        for node_type, ms, kernel_ms in rows[: args.top]:
            total = sum(kernel_ms.values()) or 1.0
            used = ", ".join(f"{k} {v / total:.0%}" for k, v in kernel_ms.most_common(3))
            print(f"| {node_type} | {ms:.1f} | {ms / summed:.1%} | {used} |")
        rest = sum(r[1] for r in rows[args.top :])
        print(f"| (the other {max(0, len(rows) - args.top)} types) | {rest:.1f} | {rest / summed:.1%} | |")


if __name__ == "__main__":
    main()
