"""A steady pyml `predict` loop to profile, e.g. where the time goes on 12 MP photos:

    py-spy record --native --idle -r 200 -f raw -o build/pyml-12mp.txt -- \
        python -m benchmarks.profile_pyml --size 12MP --batch 8 --seconds 20

Uses the suite's pictures and exports (run `python -m benchmarks.run` once first,
or this makes them). Prints images/s at the end.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.common import OUT, export_models
from benchmarks.measure import cycle
from benchmarks.suite_images import write_image_set


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="PP-LCNet_x1_0_ML")
    p.add_argument("--size", default="12MP", choices=("640x480", "12MP"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--decode_mode", default="exact", choices=("exact", "fast"))
    p.add_argument("--threads", type=int, default=0, help="Paddle math threads (0: Paddle's default)")
    p.add_argument("--seconds", type=float, default=20)
    args = p.parse_args()

    import pyml

    model_dir = export_models([args.model])[args.model]
    paths = cycle(write_image_set(OUT / "images")[args.size], 16)
    pipeline = pyml.create_pipeline(
        model_dir=model_dir, model_name=args.model, cpu_threads=args.threads, decode_mode=args.decode_mode
    )
    list(pipeline.predict(paths, batch_size=args.batch))  # warm up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        done += len(list(pipeline.predict(paths, batch_size=args.batch)))
    print(f"{done / (time.perf_counter() - start):.1f} images/s")


if __name__ == "__main__":
    main()
