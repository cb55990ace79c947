"""Training throughput of `pyml train` per architecture, by training mode, next to the
inference forward of the same network and the input pipeline alone.

    python -m benchmarks.bench_train [--models ...] [--batch 16] [--steps 3]

For each architecture, at its input size (448 for the six PaddleX models, 64 for the demo
network), on 640x480 JPEG photos with 80 random labels, images/s of:
- full, before: full fine-tuning as pyml ran it at the start of the training-speed work
  (Paddle's layers throughout; MKL without its AVX2 kernels on AMD CPUs; see full_before);
- full: full fine-tuning steps (forward, asymmetric loss, backward, AdamW) in Paddle's
  dynamic graph with the depthwise convolutions, hard swishes, ReLUs and learnable
  affine blocks on pyml's native kernels (pyml/train/native_layers.py), as `pyml train`
  runs them;
- frozen: `--freeze backbone`, the backbone forward on Paddle Inference (oneDNN) plus a
  head-only training step;
- cached: `--freeze backbone --cache_features` after the first epoch, head-only steps on
  float16 features;
- forward: the exported network's inference forward on Paddle Inference (the compute
  reference: a training step cannot cost less than about one forward);
- backbone forward: the backbone alone on Paddle Inference (what --freeze backbone runs);
  the gap to the inference forward is the ML-Decoder head's share of the compute;
- loader: reading, native decode + resize + normalize and augmentation alone (it runs on
  a helper thread beside the step).
- PaddleX's trainer: PaddleClas' engine with PaddleX's recipe for the architecture
  (benchmarks/paddleclas_trainer.py says what it takes and what it changes), its own
  timing of the step (loader waits left out), as a user runs it and with
  MKL_DEBUG_CPU_TYPE=5 (what pyml sets on AMD CPUs; on Intel CPUs the two are the same
  run). Only the six PaddleX architectures have a recipe.
Batches are loaded before the timing, so the loader's cost is in none of pyml's training rates.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import paddleclas_trainer
from benchmarks.common import OUT, cpu
from pyml.backends import create_backend, parse_device
from pyml.backends.device import usable_cores
from pyml.backends.paddle import import_paddle
from pyml.train.data import BatchLoader, parse_augment
from pyml.train.dataset import Sample
from pyml.train.export import save_model_dir
from pyml.train.frozen import FrozenBackbone, head_of
from pyml.train.loss import asymmetric_loss
from pyml.train.native_layers import NativeLayers
from pyml.train.networks import ARCHITECTURES, DEMO_ARCH, build_network, default_input_size


def samples(count: int, classes: int = 80) -> list[Sample]:
    from benchmarks.suite_images import write_image_set

    paths = write_image_set(OUT / "images")["640x480"]
    rng = np.random.default_rng(0)
    return [
        Sample(Path(paths[i % len(paths)]), (rng.random(classes) < 0.05).astype(np.float32), f"#{i}")
        for i in range(count)
    ]


def measure(arch: str, batch: int, steps: int) -> dict:
    import tempfile

    paddle = import_paddle()
    paddle.base.core.set_num_threads(usable_cores())
    size = default_input_size(arch)
    started = time.perf_counter()
    batches = training_batches(arch, batch, steps)
    loader_rate = batch * len(batches) / (time.perf_counter() - started)
    network = build_network(arch, 80)
    native = NativeLayers(network, usable_cores())
    rates = {
        "arch": arch,
        "size": size,
        "loader": loader_rate,
        "full": timed(network.parameters(), network, batches, lambda b: b.images, batch, steps, native),
    }

    frozen = FrozenBackbone(arch, network, size)
    try:
        network.eval()
        head = head_of(arch, network)
        head.train()
        rates["frozen"] = timed(head.parameters(), head, batches, lambda b: frozen.features(b.images), batch, steps)
        started = time.perf_counter()
        cached = {id(b): frozen.features(b.images) for b in batches[1:]}
        rates["backbone"] = batch * steps / (time.perf_counter() - started)
        cached[id(batches[0])] = frozen.features(batches[0].images)
        rates["cached"] = timed(head.parameters(), head, batches, lambda b: cached[id(b)], batch, steps)
    finally:
        frozen.close()
    with tempfile.TemporaryDirectory() as folder:
        save_model_dir(network, Path(folder), arch, [str(i) for i in range(80)], size)
        model = Path(folder) / "inference.json"
        backend = create_backend("paddle", model, Path(folder) / "inference.pdiparams", parse_device("cpu"))
        backend(batches[0].images)
        started = time.perf_counter()
        for b in batches[1:]:
            backend(b.images)
        rates["forward"] = batch * steps / (time.perf_counter() - started)
    return rates


def timed(parameters, layer, batches, inputs_of, batch: int, steps: int, native=None) -> float:
    """Training images/s of AdamW steps of `layer` on inputs_of(batch), after one warm-up step;
    the forward inside `native` (a NativeLayers context) when given, as `pyml train` runs it."""
    paddle = import_paddle()
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-4, parameters=parameters, weight_decay=1e-4)

    def step(b) -> None:
        x = paddle.to_tensor(np.asarray(inputs_of(b), dtype=np.float32))
        with native or contextlib.nullcontext():
            logits = layer(x)
        loss = asymmetric_loss(logits, paddle.to_tensor(b.targets))
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()

    step(batches[0])  # warm-up: kernels, allocations
    started = time.perf_counter()
    for b in batches[1:]:
        step(b)
    return batch * steps / (time.perf_counter() - started)


def full_before(arch: str, batch: int, steps: int) -> float:
    """Full fine-tuning as pyml ran it at the start of the training-speed work: Paddle's own
    layers, and MKL without its AVX2 kernels on AMD CPUs (backends/device.prepare_mkl; the
    step runs in a process where MKL_DEBUG_CPU_TYPE is set empty, so pyml leaves it alone)."""
    code = (
        "import json, warnings; warnings.filterwarnings('ignore');"
        "from benchmarks.bench_train import full_only;"
        f"print(json.dumps(full_only({arch!r}, {batch}, {steps})))"
    )
    env = {**os.environ, "MKL_DEBUG_CPU_TYPE": ""}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(run.stdout.strip().splitlines()[-1])


def training_batches(arch: str, batch: int, steps: int) -> list:
    """One warm-up and `steps` timed batches of augmented training pictures at the
    architecture's input size, read and preprocessed as `pyml train` does."""
    loader = BatchLoader(
        samples(batch * (steps + 1)),
        default_input_size(arch),
        batch,
        seed=0,
        shuffle=True,
        augment=parse_augment("flip,color,cutout"),
    )
    return list(loader.epoch(1))


def full_only(arch: str, batch: int, steps: int) -> float:
    paddle = import_paddle()
    paddle.base.core.set_num_threads(usable_cores())
    network = build_network(arch, 80)
    return timed(network.parameters(), network, training_batches(arch, batch, steps), lambda b: b.images, batch, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[DEMO_ARCH, *ARCHITECTURES])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore", message="When training, we now always track global mean")
    print(f"machine: {cpu()}; batch {args.batch}, {args.steps} timed steps after one warm-up\n")
    print("images/s\n")
    print(
        "| architecture | input | PaddleX trainer | PaddleX trainer, MKL_DEBUG_CPU_TYPE=5 | full, before | full "
        "| --freeze backbone | + --cache_features (2nd epoch) | inference forward | backbone forward | loader alone "
        "| full / PaddleX | full / before | frozen / full | cached / full |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for arch in args.models:
        paddlex = paddlex_trainer(arch, args.batch, args.steps)
        before = full_before(arch, args.batch, args.steps)
        r = measure(arch, args.batch, args.steps)
        shown = [f"{paddlex[k]:.2f}" if paddlex else "n/a" for k in ("as run", "mkl")]
        versus = f"{r['full'] / paddlex['as run']:.1f}x" if paddlex else "n/a"
        print(
            f"| {arch} | {r['size']} | {shown[0]} | {shown[1]} | {before:.2f} | {r['full']:.2f} | {r['frozen']:.1f} "
            f"| {r['cached']:.1f} | {r['forward']:.1f} | {r['backbone']:.1f} | {r['loader']:.0f} | {versus} "
            f"| {r['full'] / before:.1f}x | {r['frozen'] / r['full']:.1f}x | {r['cached'] / r['full']:.1f}x |",
            flush=True,
        )


def paddlex_trainer(arch: str, batch: int, steps: int) -> dict | None:
    """Step images/s of PaddleX's trainer, as a user runs it and with MKL's AVX2 kernels on AMD
    CPUs; None for an architecture without a PaddleX recipe."""
    if arch not in ARCHITECTURES:
        return None
    pictures = samples(batch * (steps + 1))
    return {
        "as run": paddleclas_trainer.measure(arch, pictures, batch, steps, env={"MKL_DEBUG_CPU_TYPE": ""})["step"],
        "mkl": paddleclas_trainer.measure(arch, pictures, batch, steps, env={"MKL_DEBUG_CPU_TYPE": "5"})["step"],
    }


if __name__ == "__main__":
    main()
