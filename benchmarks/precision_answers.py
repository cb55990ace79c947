"""What bf16 and int8 do to answers on a trained model: the demo model on held-out pictures.

    python -m benchmarks.precision_answers [--pictures 1000] [--calibration 300]

Draws the demo task's held-out set (tools/demo_data, the test handwriting; the same
recipe as tools/train_demo.py's test split), quantizes the demo model with
`pyml quantize`'s code on a separate draw of calibration pictures, classifies the
held-out set with each backend and precision, and prints mAP, the share of pictures
whose label set equals paddle fp32's, the largest score difference, and images/s
(batch 8, end to end, in this one process). On a CPU without bf16 instructions the
bf16 rows say why they did not run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = [("paddle", "fp32"), ("openvino", "fp32"), ("onnxruntime", "fp32"), ("paddle", "bf16"),
        ("openvino", "bf16"), ("openvino", "int8")]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pictures", type=int, default=1000)
    parser.add_argument("--calibration", type=int, default=300)
    args = parser.parse_args()
    import pyml
    from benchmarks.common import cpu
    from pyml.backends.quantize import quantize
    from pyml.errors import BackendError
    from pyml.inputs import image_files
    from pyml.models import demo_model_dir
    from pyml.train import read_dataset
    from pyml.train.evaluate import evaluate_scores
    from tools.demo_data import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PYML_CACHE_DIR", str(Path(tmp) / "cache"))
        dataset = read_dataset(
            write_dataset(Path(tmp) / "test", {"val": args.pictures}, 0, pictures="test"), splits=("val",)
        )
        calibration = write_dataset(Path(tmp) / "calibration", {"train": args.calibration}, 1, pictures="test")
        pictures = image_files(calibration / "images")
        # All of them calibrate: the held-out set above judges (split_pictures keeps a fifth back).
        report = quantize(demo_model_dir(), pictures + pictures[: len(pictures) // 4], samples=len(pictures))
        paths = [str(s.path) for s in dataset.splits["val"]]
        targets = dataset.targets("val")
        print(f"CPU: {cpu()}\n\n{len(paths)} held-out demo pictures; int8 calibrated on {len(pictures)} others "
              f"in {report.seconds:.1f} s\n")  # fmt: skip
        print("| backend, precision | mAP | label sets equal to paddle fp32 | max abs score diff | images/s |")
        print("|---|---:|---:|---:|---:|")
        reference = None
        for backend, precision in ROWS:
            try:
                pipeline = pyml.create_pipeline(backend=backend, precision=precision, batch_size=8)
            except BackendError as exc:
                print(f"| {backend} {precision} | not run: {exc} | | | |")
                continue
            list(pipeline.predict(paths[:64]))  # warm: first compiles, first allocations
            start = time.perf_counter()
            results = list(pipeline.predict(paths))
            rate = len(paths) / (time.perf_counter() - start)
            scores = np.stack([r.all_scores for r in results])
            sets = [frozenset(r.class_ids) for r in results]
            if reference is None:
                reference = (scores, sets)
            same = sum(a == b for a, b in zip(sets, reference[1]))
            print(
                f"| {backend} {precision} | {evaluate_scores(targets, scores).mAP:.4f} | "
                f"{same}/{len(sets)} ({same / len(sets):.1%}) | {np.abs(scores - reference[0]).max():.1e} | "
                f"{rate:.0f} |"
            )


if __name__ == "__main__":
    main()
