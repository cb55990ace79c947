"""PaddleX's training path, run as the baseline of benchmarks/bench_train.py: PaddleClas'
engine (`tools/train.py -c <recipe>`, assembled by setup_paddleclas_trainer.sh) with
PaddleX's recipe for the architecture (paddlex/repo_apis/PaddleClas_api/configs/<model>.yaml),
changed only where this machine or that engine requires:
- device cpu and no AMP (the recipe's fp16 AMP is for GPUs);
- batch 16 (the recipe's 64 is per GPU), a worker per core, no evaluation, no
  pretrained download, one epoch of warm-up + timed steps;
- BCE (MultiLabelLoss) for the asymmetric loss and RandAugment for RandAugmentV4, which
  this engine's copy predates: the loss is a few elementwise ops on 16x80 scores and
  the augmentation runs in the loader workers, so the step's cost is the network's.

It reports the engine's own timing lines: images/s end to end (its `ips`, loader waits
included) and of the step alone (batch_cost - reader_cost; the workers still share the
cores with it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.common import ROOT
from pyml.backends.device import usable_cores
from pyml.train.networks import ARCHITECTURES

RECIPE = """
Global:
  checkpoints: null
  pretrained_model: null
  device: cpu
  save_interval: 1000
  eval_during_train: False
  eval_interval: 1
  epochs: 1
  print_batch_step: 1
  use_visualdl: False
  image_shape: [3, 448, 448]
  save_inference_dir: ./inference
  to_static: False
  use_multilabel: True
Loss:
  Train:
    - MultiLabelLoss:
        weight: 1.0
  Eval:
    - MultiLabelLoss:
        weight: 1.0
Optimizer:
  name: AdamW
  beta1: 0.9
  beta2: 0.999
  epsilon: 1e-8
  weight_decay: 1e-4
  one_dim_param_no_weight_decay: True
  lr:
    name: Cosine
    learning_rate: 1e-4
    eta_min: 1e-10
    warmup_epoch: 0
DataLoader:
  Train:
    dataset:
      name: MultiLabelDataset
      image_root: /
      transform_ops:
        - DecodeImage: {to_rgb: True, channel_first: False}
        - ResizeImage: {size: 448, interpolation: bilinear, backend: pil}
        - Cutout: {length: 224}
        - RandAugment:
        - NormalizeImage:
            scale: 1.0/255.0
            mean: [0.485, 0.456, 0.406]
            std: [0.229, 0.224, 0.225]
            order: ''
    sampler:
      name: DistributedBatchSampler
      drop_last: False
      shuffle: True
    loader:
      use_shared_memory: True
Metric:
  Train:
  Eval:
    - MultiLabelMAP: {map_type: integral}
"""

# PaddleClas' engine logs running averages: "batch_cost: 4.59772s, reader_cost: 0.09043".
_TIMING = re.compile(r"\[Iter: (\d+)/\d+\].*?batch_cost: ([0-9.]+)s, reader_cost: ([0-9.]+)")


def tree() -> Path:
    path = subprocess.check_output(
        ["bash", str(ROOT / "benchmarks" / "setup_paddleclas_trainer.sh")], text=True, cwd=ROOT
    ).strip()
    return ROOT / path


def recipe(arch: str, train_list: Path, batch: int, output: Path) -> dict:
    config = yaml.safe_load(RECIPE)
    classes = 80
    config["Global"]["output_dir"] = str(output)
    config["Arch"] = {**ARCHITECTURES[arch]["Arch"], "class_num": classes, "pretrained": False, "use_ml_decoder": True}
    config["MLDecoder"] = {**ARCHITECTURES[arch]["MLDecoder"], "class_num": classes}
    train = config["DataLoader"]["Train"]
    train["dataset"]["cls_label_path"] = str(train_list)
    train["sampler"]["batch_size"] = batch
    train["loader"]["num_workers"] = usable_cores()
    return config


def per_step(averages: list[tuple[int, float, float]]) -> list[tuple[float, float]]:
    """(batch_cost, reader_cost) of each iteration, from the engine's running averages,
    which restart at iteration 5."""
    steps, previous = [], (0.0, 0.0)
    for it, batch_avg, reader_avg in averages:
        n = it + 1 if it < 5 else it - 4
        if it == 5:
            previous = (0.0, 0.0)
        totals = (batch_avg * n, reader_avg * n)
        steps.append((totals[0] - previous[0], totals[1] - previous[1]))
        previous = totals
    return steps


def measure(arch: str, samples: list, batch: int, steps: int, env: dict[str, str] | None = None) -> dict:
    """Images/s of PaddleX's trainer on `samples` (one warm-up + `steps` batches):
    {'ips': end to end, 'step': the step alone}."""
    with tempfile.TemporaryDirectory(prefix="pyml-paddleclas-") as tmp:
        work = Path(tmp)
        train_list = work / "train.txt"
        train_list.write_text(
            "".join(f"{s.path}\t{','.join(str(int(v)) for v in s.labels)}\n" for s in samples[: batch * (steps + 1)])
        )
        config = work / "recipe.yaml"
        config.write_text(yaml.safe_dump(recipe(arch, train_list, batch, work / "output")))
        run = subprocess.run(
            [sys.executable, "tools/train.py", "-c", str(config)],
            cwd=tree(),
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=3600,
        )
    log = run.stdout + run.stderr
    averages = sorted({(int(m[1]), float(m[2]), float(m[3])) for m in _TIMING.finditer(log)})
    if run.returncode != 0 or len(averages) < steps + 1:
        tail = "\n".join(log.splitlines()[-15:])
        raise RuntimeError(f"PaddleClas' trainer failed on {arch} (exit {run.returncode}):\n{tail}")
    timed = per_step(averages)[1 : steps + 1]  # iteration 0 is the warm-up
    batch_cost = sum(b for b, _ in timed)
    reader_cost = sum(r for _, r in timed)
    return {"ips": batch * len(timed) / batch_cost, "step": batch * len(timed) / (batch_cost - reader_cost)}
