"""Train and export pyml's embedded demo model: which digits are on a picture.

    python -m tools.train_demo [--out pyml/demo] [--steps 3000] [--seed 0]

A PP-LCNet x0.5 backbone (paddleclas) with a 10-way multi-label head, trained
on the CPU on canvases from tools/demo_data.py. Batches go through pyml's own
native preprocessing (Pillow-exact resize to 64x64), so training sees
exactly what inference sees. Writes the PaddleX model directory
`<out>/model`, sample pictures from the test split in `<out>/images` with
their true labels in `<out>/images/labels.json`, and the held-out metrics in
`<out>/metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from pyml import _native
from tools.demo_data import LABELS, draw_batch, load_splits
from tools.paddleclas_arch import import_ppcls_arch
from tools.paddlex_export import IMAGENET_MEAN, IMAGENET_STD, save_model_dir

MODEL_NAME = "pyml-demo-digits_ML"
INPUT_SIZE = 64
TRAIN_SIZES = (64, 160)  # canvas sizes drawn for training; all are resized to INPUT_SIZE


def build_network():
    arch = import_ppcls_arch()
    return arch.PPLCNet_x0_5(class_num=len(LABELS), class_expand=512, dropout_prob=0.1)


def predict(network, preprocessor, images: list[np.ndarray], batch: int = 128) -> np.ndarray:
    import paddle

    network.eval()
    out = []
    with paddle.no_grad():
        for i in range(0, len(images), batch):
            x = paddle.to_tensor(preprocessor.run(images[i:i + batch]))
            out.append(paddle.nn.functional.sigmoid(network(x)).numpy())
    network.train()
    return np.concatenate(out)


def average_precisions(truth: np.ndarray, scores: np.ndarray) -> list[float]:
    from sklearn.metrics import average_precision_score

    return [float(average_precision_score(truth[:, c], scores[:, c])) for c in range(truth.shape[1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("pyml/demo"))
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=4e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=8, help="test pictures to ship")
    args = parser.parse_args()

    import paddle

    paddle.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    splits = load_splits(args.seed)
    spec = _native.PreprocessSpec(width=INPUT_SIZE, height=INPUT_SIZE, mean=IMAGENET_MEAN,
                                  std=IMAGENET_STD)
    preprocessor = _native.Preprocessor(spec, threads=0)
    val_images, val_truth = draw_batch(splits["val"], np.random.default_rng(1000 + args.seed), 500,
                                       TRAIN_SIZES)

    network = build_network()
    schedule = paddle.optimizer.lr.OneCycleLR(max_learning_rate=args.lr, total_steps=args.steps)
    optimizer = paddle.optimizer.AdamW(learning_rate=schedule, parameters=network.parameters(),
                                       weight_decay=1e-4)
    loss_fn = paddle.nn.BCEWithLogitsLoss()
    network.train()
    start = time.perf_counter()
    # Drawing canvases is numpy/OpenCV work: overlap it with the training step.
    drawer = ThreadPoolExecutor(max_workers=1)
    pending = drawer.submit(draw_batch, splits["train"], rng, args.batch, TRAIN_SIZES)
    for step in range(1, args.steps + 1):
        images, truth = pending.result()
        if step < args.steps:
            pending = drawer.submit(draw_batch, splits["train"], rng, args.batch, TRAIN_SIZES)
        loss = loss_fn(network(paddle.to_tensor(preprocessor.run(images))), paddle.to_tensor(truth))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        schedule.step()
        if step % 250 == 0 or step == args.steps:
            val_map = float(np.mean(average_precisions(val_truth, predict(network, preprocessor, val_images))))
            print(f"step {step:5d}  loss {float(loss):.4f}  val mAP {val_map:.4f}  "
                  f"{time.perf_counter() - start:6.0f} s", flush=True)
    train_seconds = time.perf_counter() - start

    # Held-out test: canvases built only from test-split handwriting.
    test_images, test_truth = draw_batch(splits["test"], np.random.default_rng(2000 + args.seed), 2000,
                                         TRAIN_SIZES)
    aps = average_precisions(test_truth, predict(network, preprocessor, test_images))
    print(f"test mAP {np.mean(aps):.4f} over {len(test_images)} canvases; "
          f"per class: {', '.join(f'{n} {a:.3f}' for n, a in zip(LABELS, aps))}")

    network.eval()
    model_dir = save_model_dir(network, args.out / "model", MODEL_NAME, LABELS, INPUT_SIZE)
    image_dir = args.out / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    samples, sample_truth = draw_batch(splits["test"], np.random.default_rng(3000 + args.seed),
                                       args.samples, (192, 192))
    manifest = {}
    for i, (image, truth) in enumerate(zip(samples, sample_truth), start=1):
        name = f"digits_{i:02d}.jpg"
        cv2.imwrite(str(image_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        manifest[name] = [LABELS[c] for c in np.nonzero(truth)[0]]
    (image_dir / "labels.json").write_text(json.dumps(manifest, indent=2) + "\n")
    metrics = {
        "model_name": MODEL_NAME, "input_size": INPUT_SIZE, "seed": args.seed, "steps": args.steps,
        "batch": args.batch, "train_seconds": round(train_seconds, 1),
        "test_canvases": len(test_images), "test_mAP": round(float(np.mean(aps)), 4),
        "test_AP": {n: round(a, 4) for n, a in zip(LABELS, aps)},
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"wrote {model_dir}, {len(manifest)} samples; trained in {train_seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
