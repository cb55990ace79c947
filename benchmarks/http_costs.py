"""Where an HTTP request's time goes, beside the model's share of it: each step of PaddleX's
HTTP door that is not the model (JSON and base64 in, the drawing, its JPEG, base64 and
JSON out) timed alone on the same 640x480 JPEGs, in one process, next to the pipeline's
own per-image time in process (preprocessing and the model, at the server's batch).

A step's share is its milliseconds over the in-process milliseconds per image: on a
machine whose cores the model already fills, every such millisecond is taken from it.

    python -m benchmarks.http_costs [--model PP-LCNet_x1_0_ML] [--batch 8]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import time
from pathlib import Path

ROUNDS = 5


def per_call_ms(fn, items: list, rounds: int = ROUNDS) -> float:
    """Median over rounds of the mean milliseconds per item."""
    fn(items[0])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            fn(item)
        times.append((time.perf_counter() - started) / len(items))
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    import pyml
    from benchmarks.common import OUT as RUN_OUT
    from benchmarks.common import export_models, machine
    from benchmarks.suite_images import write_image_set
    from pyml.serving.paddlex_api import InferRequest, _jpeg_base64

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="PP-LCNet_x1_0_ML")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--images", type=int, default=64)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    model_dir = export_models([args.model])[args.model] if args.model != "pyml_demo" else None
    paths = write_image_set(RUN_OUT / "images")["640x480"][: args.images]
    datas = [Path(path).read_bytes() for path in paths]
    bodies = [json.dumps({"image": base64.b64encode(d).decode()}).encode() for d in datas]
    pipeline = pyml.create_pipeline(model_dir=model_dir, batch_size=args.batch)
    results = list(pipeline.predict(paths))
    answers = [{"categories": [{"id": 0, "name": "person", "score": 0.9}], "image": _jpeg_base64(r)} for r in results]

    def in_process(_) -> None:
        list(pipeline.predict(paths))

    model_ms = per_call_ms(in_process, [None], rounds=3) / len(paths)
    drawn = [r.visualize() for r in results]

    def encode(image) -> None:
        image.save(io.BytesIO(), format="JPEG")

    steps = {
        "request JSON + validation": per_call_ms(InferRequest.model_validate_json, bodies),
        "base64 decode": per_call_ms(lambda b: base64.b64decode(json.loads(b)["image"], validate=True), bodies),
        "drawing (decode again, band)": per_call_ms(lambda r: r.visualize(), results),
        "JPEG encode of the drawing": per_call_ms(encode, drawn),
        "drawing + JPEG + base64 (visualize on)": per_call_ms(_jpeg_base64, results),
        "response JSON": per_call_ms(lambda a: json.dumps({"logId": "x", "result": a}).encode(), answers),
    }
    print(f"machine: {machine()}; {args.model} via {pipeline.backend_name}, batch {args.batch}, 640x480 JPEG")
    print(f"\nin-process pipeline: {model_ms:.2f} ms per image ({1000 / model_ms:.1f} images/s)\n")
    print("| step (per request) | ms | share of the in-process ms per image |")
    print("|---|---:|---:|")
    for name, ms in steps.items():
        print(f"| {name} | {ms:.3f} | {ms / model_ms:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
