"""Training throughput of `pyml train` per architecture, next to its input pipeline alone.

    python -m benchmarks.bench_train [--models ...] [--batch 16] [--steps 3]

For each architecture: images/s of full training steps (forward, asymmetric loss,
backward, AdamW) at its input size (448 for the six PaddleX models, 64 for the demo
network) on 640x480 JPEG photos with 80 random labels, and images/s of the loader
alone (read, native decode + resize + normalize, per-batch augmentation) on the same
batches. The ratio loader/training says how far the input pipeline is from being the
bottleneck (it runs on a helper thread, overlapped with the step). There is no PaddleX
baseline here: PaddleX trains through its PaddleClas plugin, which it downloads from
a git host at run time and this project's machines cannot reach.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from pyml.backends.device import cpu_description, usable_cores
from pyml.backends.paddle import import_paddle
from pyml.train.data import BatchLoader, parse_augment
from pyml.train.dataset import Sample
from pyml.train.loss import asymmetric_loss
from pyml.train.networks import ARCHITECTURES, DEMO_ARCH, build_network, default_input_size

OUT = Path(__file__).resolve().parent / "out"


def cpu() -> str:
    return f"{cpu_description()}, {os.cpu_count()} logical cores, {platform.system()}"


def samples(count: int, classes: int = 80) -> list[Sample]:
    from benchmarks.suite_images import write_image_set

    paths = write_image_set(OUT / "images")["640x480"]
    rng = np.random.default_rng(0)
    return [Sample(Path(paths[i % len(paths)]), (rng.random(classes) < 0.05).astype(np.float32), f"#{i}")
            for i in range(count)]


def measure(arch: str, batch: int, steps: int) -> dict:
    paddle = import_paddle()
    paddle.base.core.set_num_threads(usable_cores())
    size = default_input_size(arch)
    data = samples(batch * (steps + 1))
    loader = BatchLoader(data, size, batch, seed=0, shuffle=True, augment=parse_augment("flip,color,cutout"))
    started = time.perf_counter()
    batches = list(loader.epoch(1))
    loader_rate = len(data) / (time.perf_counter() - started)
    network = build_network(arch, 80)
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-4, parameters=network.parameters(), weight_decay=1e-4)

    def step(b) -> None:
        loss = asymmetric_loss(network(paddle.to_tensor(b.images)), paddle.to_tensor(b.targets))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()

    step(batches[0])  # warm-up: kernels, allocations
    started = time.perf_counter()
    for b in batches[1:]:
        step(b)
    train_rate = batch * steps / (time.perf_counter() - started)
    return {"arch": arch, "size": size, "train": train_rate, "loader": loader_rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[DEMO_ARCH, *ARCHITECTURES])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore", message="When training, we now always track global mean")
    print(f"machine: {cpu()}; batch {args.batch}, {args.steps} timed steps after one warm-up\n")
    print("| architecture | input | training images/s | loader alone images/s | loader / training |")
    print("|---|---:|---:|---:|---:|")
    for arch in args.models:
        r = measure(arch, args.batch, args.steps)
        print(f"| {arch} | {r['size']} | {r['train']:.2f} | {r['loader']:.1f} | {r['loader'] / r['train']:.0f}x |",
              flush=True)


if __name__ == "__main__":
    main()
