"""Make pyml's embedded demo model (which digits are on a picture) through `pyml train`.

    python -m tools.train_demo [--out pyml/demo] [--work build/demo] [--seed 0]

1. Writes the demo task (tools/demo_data.py) as PaddleX multi-label datasets under
   --work: `dataset/` (train pictures from the train handwriting, val from the val
   handwriting) and `test/` (a val split drawn only from the held-out test handwriting).
2. Runs one `pyml train` on it: the small network, 64x64 input, no augmentation that
   would change which digits are visible (colour jitter only), cross-entropy loss (the
   asymmetric loss reached test mAP 0.9975 too, but left absent digits' scores around
   0.5-0.75, so only 38% of pictures got exactly their digits at the 0.5 threshold).
3. Evaluates the exported model on `test/` through pyml's own pipeline (`pyml eval`'s
   code), copies it to `<out>/model` with its ONNX file (`pyml convert`), and writes
   sample pictures with their true labels (`<out>/images`, `labels.json`) and the
   held-out metrics (`<out>/metrics.json`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from tools.demo_data import LABELS, draw_batch, load_splits, write_dataset

MODEL_NAME = "pyml-demo-digits_ML"
RECIPE = [
    "--model",
    "pyml-small-convnet",
    "--input_size",
    "64",
    "--epochs",
    "4",
    "--batch_size",
    "64",
    "--lr",
    "3e-3",
    "--warmup_epochs",
    "0",
    "--augment",
    "color",
    "--loss",
    "bce",
    "--model_name",
    MODEL_NAME,
]
TRAIN_PICTURES, VAL_PICTURES, TEST_PICTURES = 9600, 500, 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("pyml/demo"))
    parser.add_argument("--work", type=Path, default=Path("build/demo"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=8, help="test pictures to ship")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    started = time.perf_counter()
    dataset = write_dataset(args.work / "dataset", {"train": TRAIN_PICTURES, "val": VAL_PICTURES}, args.seed)
    test = write_dataset(args.work / "test", {"val": TEST_PICTURES}, args.seed, pictures="test")
    print(f"wrote the datasets in {time.perf_counter() - started:.0f} s", flush=True)

    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pyml.cli",
            "train",
            str(dataset),
            "--output",
            str(args.work / "run"),
            "--seed",
            str(args.seed),
            *RECIPE,
        ],
        check=True,
    )
    train_seconds = time.perf_counter() - started
    model_dir = args.work / "run" / "best_model" / "inference"

    from pyml.train import read_dataset
    from pyml.train.evaluate import evaluate_model_dir

    evaluation = evaluate_model_dir(model_dir, read_dataset(test, splits=("val",)), "val", batch_size=64)
    print(evaluation.table(LABELS))

    shutil.rmtree(args.out / "model", ignore_errors=True)
    shutil.copytree(model_dir, args.out / "model")
    # its ONNX file ships beside it: a plain `pip install pyml` (no Paddle) runs the demo on ONNX Runtime
    subprocess.run([sys.executable, "-m", "pyml.cli", "convert", str(args.out / "model")], check=True)
    image_dir = args.out / "images"
    shutil.rmtree(image_dir, ignore_errors=True)
    image_dir.mkdir(parents=True)
    samples, sample_truth = draw_batch(
        load_splits(args.seed)["test"], np.random.default_rng(3000 + args.seed), args.samples, scales=(3,)
    )
    manifest = {}
    for i, (image, truth) in enumerate(zip(samples, sample_truth), start=1):
        name = f"digits_{i:02d}.jpg"
        cv2.imwrite(str(image_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        manifest[name] = [LABELS[c] for c in np.nonzero(truth)[0]]
    (image_dir / "labels.json").write_text(json.dumps(manifest, indent=2) + "\n")
    history = json.loads((args.work / "run" / "metrics.json").read_text())
    metrics = {
        "model_name": MODEL_NAME,
        "recipe": "pyml train DATASET " + " ".join(RECIPE),
        "seed": args.seed,
        "train_pictures": TRAIN_PICTURES,
        "train_seconds": round(train_seconds, 1),
        "best_epoch": history["best_epoch"],
        "val_mAP": history["best_val_mAP"],
        "test_pictures": evaluation.images,
        "test_mAP": round(evaluation.mAP, 4),
        "test_AP": {n: round(a, 4) for n, a in zip(LABELS, evaluation.ap)},
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {args.out / 'model'} and {len(manifest)} samples; training took {train_seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
