"""`pyml batch` throughput: in-process predict vs the batch job vs the same job on Ray.

    python -m benchmarks.bench_batch [--images 400] [--models demo PP-LCNet_x1_0_ML]

On one folder of distinct 640x480 JPEG photos, per model, in one process:
- predict: `list(pipeline.predict(folder))`, the in-process baseline (all cores);
- batch: `run_batch` (the same pipeline, plus listing, resume bookkeeping, JSONL writing);
- ray_local 1 / 2: `run_batch_on_ray(local_cpus=N)`, N one-CPU actors on a local cluster.
Ray's rows include its fixed cost (cluster start, actor start, model load): the time to
the first written rows; its steady rate counts from there to the end.

Then a model of N machines: each worker's steady rate, the efficiency from 1 to 2
workers, and the driver's own cost per row (reading a result block, JSON, the write)
measured alone, which caps the whole job however many workers there are.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import cpu, export_models
from benchmarks.suite_images import write_image_set
from pyml.backends.paddle import import_paddle

OUT = Path(__file__).resolve().parent / "out"


def make_folder(count: int) -> Path:
    folder = OUT / f"batch-{count}"
    if not folder.exists() or len(list(folder.glob("*.jpg"))) != count:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        photos = write_image_set(OUT / "images")["640x480"]
        for i in range(count):  # distinct names: the job lists each input once
            shutil.copyfile(photos[i % len(photos)], folder / f"{i:06d}.jpg")
    return folder


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def driver_cost_per_row(rows: list[str]) -> float:
    """Seconds per row of what the Ray driver does with each result row (rows arrive
    already encoded by the workers: dedup and the write)."""
    from pyml.batch_output import JsonlOutput, encode_row

    encoded = [encode_row(json.loads(row)) for row in rows]
    with tempfile.TemporaryDirectory() as tmp, JsonlOutput(Path(tmp) / "r.jsonl") as out:
        start = time.perf_counter()
        for i in range(0, len(encoded), 32):
            out.write_encoded(encoded[i : i + 32])
        return (time.perf_counter() - start) / len(encoded)


def listing_cost_per_file(folder: Path) -> float:
    from pyml.batch import list_inputs

    start = time.perf_counter()
    names = list_inputs([str(folder)])
    return (time.perf_counter() - start) / len(names)


def bench_model(name: str, model_dir: str | None, folder: Path, batch_size: int) -> dict:
    import pyml
    from pyml.batch import run_batch
    from pyml.batch_ray import run_batch_on_ray

    options = dict(model_dir=model_dir, model_name=name if model_dir else None)
    pipeline = pyml.create_pipeline(batch_size=batch_size, **options)
    count = len(list(folder.glob("*.jpg")))
    list(pipeline.predict(str(folder)))  # warm
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "single.jsonl"
        predict, batch = [], []
        for _ in range(2):  # interleaved, best of two: the machine is noisy
            predict.append(timed(lambda: list(pipeline.predict(str(folder)))))
            batch.append(timed(lambda: run_batch(pipeline, [str(folder)], out, progress=False, overwrite=True)))
        rows["predict"] = {"seconds": min(predict)}
        rows["batch"] = {"seconds": min(batch)}
        result_rows = out.read_text().splitlines()
        for workers in (1, 2):
            summary = run_batch_on_ray(
                "pyml_demo",
                [str(folder)],
                Path(tmp) / f"ray{workers}.jsonl",
                local_cpus=workers,
                batch_size=batch_size,
                progress=False,
                **options,
            )
            rows[f"ray_local {workers}"] = {
                "seconds": summary.seconds,
                "fixed": summary.startup_s,
                "steady": summary.steady_rate,
            }
    for row in rows.values():
        row["rate"] = count / row["seconds"]
    return {
        "count": count,
        "rows": rows,
        "driver_s_per_row": driver_cost_per_row(result_rows),
        "listing_s_per_file": listing_cost_per_file(folder),
    }


def report(name: str, result: dict) -> list[str]:
    rows, base = result["rows"], result["rows"]["predict"]["rate"]
    lines = [
        f"### {name}: {result['count']} images, 640x480 JPEG",
        "",
        "| run | wall s | images/s | vs predict | until first rows s | steady images/s |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in rows.items():
        fixed = f"{row['fixed']:.1f}" if "fixed" in row else "-"
        steady = f"{row['steady']:.1f}" if "steady" in row else "-"
        lines.append(
            f"| {label} | {row['seconds']:.2f} | {row['rate']:.1f} | {row['rate'] / base:.2f}x | {fixed} | {steady} |"
        )
    per_worker = rows["ray_local 1"]["steady"]
    efficiency = rows["ray_local 2"]["steady"] / (2 * per_worker)
    ceiling = 1 / result["driver_s_per_row"]
    lines += [
        "",
        f"Per worker (1 CPU): {per_worker:.1f} images/s; 1 -> 2 workers efficiency {efficiency:.2f}; "
        f"driver cost {result['driver_s_per_row'] * 1e6:.1f} us/row (ceiling {ceiling:,.0f} rows/s); "
        f"listing {result['listing_s_per_file'] * 1e6:.1f} us/file.",
        "",
        "| machines x 16 CPUs | workers | modelled images/s | limited by |",
        "|---|---|---|---|",
    ]
    for machines in (1, 4, 16, 64):
        workers = machines * 16
        compute = workers * per_worker * efficiency
        rate = min(compute, ceiling)
        lines.append(f"| {machines} | {workers} | {rate:,.0f} | {'workers' if compute < ceiling else 'driver'} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--models", nargs="+", default=["demo", "PP-LCNet_x1_0_ML"])
    parser.add_argument("--batch_size", type=int, default=8)
    args = parser.parse_args()
    import_paddle()
    folder = make_folder(args.images)
    exports = export_models([m for m in args.models if m != "demo"])
    print(f"CPU: {cpu()}\n")
    for name in args.models:
        result = bench_model(name, exports.get(name), folder, args.batch_size)
        print("\n".join(report(name, result)) + "\n", flush=True)


if __name__ == "__main__":
    main()
