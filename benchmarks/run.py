"""pyml against PaddleX 3.7.2, end to end, in one process, on this machine.

    python -m benchmarks.run --suite all      # writes benchmarks/RESULTS.md and benchmarks/results.png
    python -m benchmarks.run --suite quick    # PP-LCNet_x1_0_ML only, fewer repeats, no serving

If PaddleX is not importable, the suite first makes its environment with
benchmarks/setup_paddlex.sh (a venv under build/ that also sees this Python's
packages) and re-runs itself there. Models are pyml's architecture exports
(tools/export_arch.py, seeded weights, 448x448) kept in benchmarks/out/models;
PaddleX loads them offline with its own `create_model`. Both sides run Paddle
Inference on the CPU with oneDNN and the same number of math threads.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import OUT, ROOT, ensure_paddlex, export_models, machine

MODELS = ["PP-LCNet_x1_0_ML", "PP-HGNetV2-B0_ML"]
E2E_IMAGES = 16  # per pass: two batches of 8


class Sides:
    """One model loaded three ways: PaddleX's predictor, pyml exact, pyml fast."""

    def __init__(self, name: str, model_dir: str, threads: int) -> None:
        import pyml
        from benchmarks import paddlex_side

        self.name = name
        self.paddlex = paddlex_side.load(name, model_dir, threads)
        self.pyml = {
            mode: pyml.create_pipeline(model_dir=model_dir, model_name=name, cpu_threads=threads, decode_mode=mode)
            for mode in ("exact", "fast")
        }

    def predict(self, side: str, paths: list[str], batch: int):
        from benchmarks import paddlex_side

        if side == "paddlex":
            return paddlex_side.predict(self.paddlex, paths, batch)
        return [(r.class_ids, r.scores) for r in self.pyml[side].predict(paths, batch_size=batch)]


def bench_preprocess(sides: Sides, paths: list[str], repeats: int) -> dict:
    import numpy as np

    from benchmarks import paddlex_side
    from benchmarks.measure import cycle, median_seconds
    from pyml.inputs import iter_sources

    batch = cycle(paths, 8)

    def pyml_prepare(mode):
        return sides.pyml[mode]._prepare(list(iter_sources(batch))).tensor

    def quiet_median(fn):
        # After a model run, oneDNN's OpenMP threads spin for KMP_BLOCKTIME (200 ms) and hold a
        # core; preprocessing measured inside that window ran at half speed in some processes.
        time.sleep(0.5)
        return median_seconds(fn, repeats)

    theirs = paddlex_side.preprocess(sides.paddlex, batch)
    ours = pyml_prepare("exact")
    row = {"tensor_max_abs_diff": float(np.max(np.abs(theirs - ours)))}
    row["paddlex"] = len(batch) / quiet_median(lambda: paddlex_side.preprocess(sides.paddlex, batch))
    for mode in ("exact", "fast"):
        row[mode] = len(batch) / quiet_median(lambda mode=mode: pyml_prepare(mode))
    return row


def bench_e2e(sides: Sides, paths: list[str], batch: int, repeats: int) -> dict:
    from benchmarks import paddlex_side
    from benchmarks.measure import TimedRunner, cycle, median_seconds

    images = cycle(paths, E2E_IMAGES)
    row: dict = {}
    answers = {}
    for side in ("paddlex", "exact", "fast"):
        seconds = median_seconds(lambda side=side: sides.predict(side, images, batch), repeats)
        latency = median_seconds(lambda side=side: sides.predict(side, images[:batch], batch), repeats + 2, warmup=0)
        # One more pass with the model runner timed: the share of wall time spent outside it.
        if side == "paddlex":
            timed = TimedRunner(paddlex_side.runner_of(sides.paddlex))
            paddlex_side.set_runner(sides.paddlex, timed)
        else:
            timed = TimedRunner(sides.pyml[side]._backend)
            sides.pyml[side]._backend = timed
        start = time.perf_counter()
        answers[side] = sides.predict(side, images, batch)
        wall = time.perf_counter() - start
        if side == "paddlex":
            paddlex_side.set_runner(sides.paddlex, timed._runner)
        else:
            sides.pyml[side]._backend = timed._runner
        row[side] = {
            "images_per_s": len(images) / seconds,
            "p50_latency_ms": latency * 1000,
            "outside_model": 1 - timed.seconds / wall,
        }
    # The ceiling: the model alone on a ready tensor, as pyml's predictor runs it.
    from pyml.inputs import iter_sources

    tensor = sides.pyml["exact"]._prepare(list(iter_sources(images[:batch]))).tensor
    backend = sides.pyml["exact"]._backend
    row["model_alone_images_per_s"] = batch / median_seconds(lambda: backend(tensor), repeats + 2)
    for mode in ("exact", "fast"):
        pairs = list(zip(answers["paddlex"], answers[mode]))
        theirs_ours = [(dict(zip(*a)), dict(zip(*b))) for a, b in pairs]
        row[mode]["labels_identical"] = f"{sum(set(a[0]) == set(b[0]) for a, b in pairs)}/{len(images)}"
        row[mode]["labels_differing"] = sum(len(t.keys() ^ o.keys()) for t, o in theirs_ours)
        row[mode]["labels_compared"] = sum(len(t.keys() | o.keys()) for t, o in theirs_ours)
        row[mode]["max_score_diff"] = max(
            (abs(t[c] - o[c]) for t, o in theirs_ours for c in t.keys() & o.keys()), default=0.0
        )
    return row


def rss_probe(side: str, name: str, model_dir: str, size: str, threads: int) -> None:
    """Child process: load one side, run one batch-8 pass, print peak RSS (KiB) as JSON."""
    from benchmarks.measure import cycle
    from benchmarks.suite_images import write_image_set

    paths = cycle(write_image_set(OUT / "images")[size], E2E_IMAGES)
    if side == "paddlex":
        from benchmarks import paddlex_side

        model = paddlex_side.load(name, model_dir, threads)
        paddlex_side.predict(model, paths, 8)
    else:
        import pyml

        list(
            pyml.create_pipeline(model_dir=model_dir, model_name=name, cpu_threads=threads, decode_mode=side).predict(
                paths, batch_size=8
            )
        )
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent that forked us.
    status = Path("/proc/self/status").read_text().splitlines()
    print(json.dumps({"peak_rss_kib": int(next(line for line in status if line.startswith("VmHWM:")).split()[1])}))


def peak_rss(side: str, name: str, model_dir: str, size: str, threads: int) -> float:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--rss-probe",
            side,
            "--model",
            name,
            "--size",
            size,
            "--threads",
            str(threads),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_kib"] / 1024


def versions() -> dict[str, str]:
    import cv2
    import numpy
    import paddle
    import paddlex
    import PIL

    import pyml

    return {
        "python": platform.python_version(),
        "paddlepaddle": paddle.__version__,
        "paddlex": paddlex.__version__,
        "pyml": pyml.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", choices=("all", "quick"), default="all")
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="Paddle math threads on both sides (default: every core)",
    )
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    p.add_argument("--rss-probe", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--size", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    os.environ["PADDLE_PDX_CPU_NUM_THREADS"] = str(args.threads)
    if args.rss_probe:  # a child of the suite: measures one side alone, imports only that side
        rss_probe(args.rss_probe, args.model, export_models([args.model])[args.model], args.size, args.threads)
        return 0
    ensure_paddlex(argv)

    from benchmarks import report
    from benchmarks.suite_images import SIZES, write_image_set

    started = time.perf_counter()
    quick = args.suite == "quick"
    names = MODELS[:1] if quick else MODELS
    repeats = 2 if quick else 3
    model_dirs = export_models(names)
    image_sets = write_image_set(OUT / "images")
    results: dict = {
        "command": "python -m benchmarks.run " + " ".join(argv),
        "machine": machine(),
        "versions": versions(),
        "threads": args.threads,
        "images": {size: [Path(p).stem for p in paths] for size, paths in image_sets.items()},
        "models": {},
    }
    for name in names:
        print(f"benchmarks: {name}", file=sys.stderr)
        sides = Sides(name, model_dirs[name], args.threads)
        per_model: dict = {"preprocess": {}, "e2e": {}, "rss_mib": {}}
        for size in SIZES:
            per_model["preprocess"][size] = bench_preprocess(sides, image_sets[size], repeats)
            for batch in (1, 8):
                print(f"benchmarks:   {size} batch {batch}", file=sys.stderr)
                per_model["e2e"][f"{size} b{batch}"] = bench_e2e(sides, image_sets[size], batch, repeats)
        if name == names[0]:
            for size in SIZES:
                per_model["rss_mib"][size] = {
                    side: peak_rss(side, name, model_dirs[name], size, args.threads) for side in ("paddlex", "exact")
                }
        results["models"][name] = per_model
        del sides
    if not quick:
        from benchmarks import bench_backends
        from benchmarks.suite_images import write_crops

        print("benchmarks: backends and precisions", file=sys.stderr)
        crops = write_crops(OUT / "images" / "crops", bench_backends.CALIBRATION + bench_backends.HELD_OUT)
        results["backends"] = bench_backends.compare_backends(
            names, model_dirs, {**image_sets, "crops": crops}, args.threads, repeats
        )
        from benchmarks import serving_compare

        print("benchmarks: serving", file=sys.stderr)
        results["serving"] = serving_compare.compare(
            MODELS[0], model_dirs[MODELS[0]], image_sets["640x480"], args.threads
        )
    results["minutes"] = (time.perf_counter() - started) / 60
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    report.write(results, Path(args.out), Path(args.out).with_name("results.png"))
    print(f"benchmarks: wrote {args.out} in {results['minutes']:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
