"""Preprocessing speed: pyml's native batch path against the path PaddleX runs.

The reference is what PaddleX's multi-label predictor does per image, in the
same process: cv2.imdecode -> BGR2RGB -> Pillow BILINEAR resize to 448x448 ->
float32 normalize per channel -> CHW -> np.stack. pyml runs exact and fast
decode modes at 1 thread and at all cores. Images are made here from a real
photo that scikit-learn ships (no downloads). Prints images/s and the ratio
to the reference; absolute numbers depend on the machine, the ratios matter.

    python -m benchmarks.bench_preprocess [--quick] [--batch 8] [--seconds 2]
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
from PIL import Image

from pyml import _native

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def reference_preprocess(buffers: list[bytes]) -> np.ndarray:
    out = []
    for buf in buffers:
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        rgb = np.asarray(Image.fromarray(rgb).resize((448, 448), Image.BILINEAR))
        planes = list(cv2.split(rgb))
        for c in range(3):
            planes[c] = planes[c].astype(np.float32)
            planes[c] *= (1 / 255) / STD[c]
            planes[c] += -MEAN[c] / STD[c]
        out.append(np.transpose(cv2.merge(planes), (2, 0, 1)))
    return np.stack(out)


def make_jpeg(width: int, height: int) -> bytes:
    from sklearn.datasets import load_sample_images

    photo = load_sample_images().images[0]  # china.jpg, 640x427
    big = cv2.resize(photo, (width, height), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def images_per_second(fn, batch: list[bytes], seconds: float) -> float:
    fn(batch)  # warm up (thread pool start, page faults)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(batch)
        done += len(batch)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--quick", action="store_true", help="short run (0.5 s per measurement)")
    args = parser.parse_args()
    seconds = 0.5 if args.quick else args.seconds
    cores = os.cpu_count() or 1

    print(
        f"pyml preprocess benchmark: batch {args.batch}, {cores} cores, "
        f"OpenCV {cv2.__version__}, Pillow {Image.__version__}"
    )
    header = f"{'input':<16}{'path':<22}{'threads':>8}{'images/s':>11}{'vs reference':>14}"
    print(header)
    print("-" * len(header))
    for label, (w, h) in (("640x480 JPEG", (640, 480)), ("4000x3000 JPEG", (4000, 3000))):
        batch = [make_jpeg(w, h)] * args.batch
        ref = images_per_second(reference_preprocess, batch, seconds)
        print(f"{label:<16}{'reference (PaddleX)':<22}{1:>8}{ref:>11.1f}{1.0:>13.2f}x")
        for mode in ("exact", "fast"):
            for threads in sorted({1, cores}):
                pre = _native.Preprocessor(_native.PreprocessSpec(decode_mode=mode), threads=threads)
                ips = images_per_second(pre.run, batch, seconds)
                print(f"{'':<16}{'pyml ' + mode:<22}{threads:>8}{ips:>11.1f}{ips / ref:>13.2f}x")


if __name__ == "__main__":
    main()
