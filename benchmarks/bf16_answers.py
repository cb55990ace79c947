"""What bf16 does to answers on a trained model: the demo model on held-out pictures.

    python -m benchmarks.bf16_answers [--pictures 1000]

Draws the demo task's held-out set (tools/demo_data, the test handwriting; the same
recipe as tools/train_demo.py's test split), classifies it with each bf16-capable
backend at fp32 and bf16, and prints mAP, the share of pictures whose label set equals
the fp32 one, and the largest score difference. On a CPU without bf16 instructions
the bf16 rows say why they did not run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pictures", type=int, default=1000)
    args = parser.parse_args()
    import pyml
    from benchmarks.common import cpu
    from pyml.errors import BackendError
    from pyml.train import read_dataset
    from pyml.train.evaluate import evaluate_scores
    from tools.demo_data import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        dataset = read_dataset(
            write_dataset(Path(tmp) / "test", {"val": args.pictures}, 0, pictures="test"), splits=("val",)
        )
        paths = [str(s.path) for s in dataset.splits["val"]]
        targets = dataset.targets("val")
        print(f"CPU: {cpu()}\n\n{len(paths)} held-out demo pictures\n")
        print("| backend, precision | mAP | label sets equal to paddle fp32 | max abs score diff |")
        print("|---|---:|---:|---:|")
        reference = None
        for backend, precision in [("paddle", "fp32"), ("openvino", "fp32"), ("paddle", "bf16"), ("openvino", "bf16")]:
            try:
                pipeline = pyml.create_pipeline(backend=backend, precision=precision, batch_size=8)
            except BackendError as exc:
                print(f"| {backend} {precision} | not run: {exc} | | |")
                continue
            results = list(pipeline.predict(paths))
            scores = np.stack([r.all_scores for r in results])
            sets = [frozenset(r.class_ids) for r in results]
            if reference is None:
                reference = (scores, sets)
            same = sum(a == b for a, b in zip(sets, reference[1]))
            print(
                f"| {backend} {precision} | {evaluate_scores(targets, scores).mAP:.4f} | "
                f"{same}/{len(sets)} ({same / len(sets):.1%}) | {np.abs(scores - reference[0]).max():.1e} |"
            )


if __name__ == "__main__":
    main()
