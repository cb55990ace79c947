"""Export any of the six PaddleX multi-label architectures as a PaddleX model directory.

    python -m tools.export_arch PP-LCNet_x1_0_ML OUT_DIR [--weights FILE.pdparams] [--seed N]

The network is built with paddleclas exactly as PaddleX's training configs define
it (backbone + ML-Decoder head, 80 classes), with seeded random weights or a
user's trained `.pdparams`, and exported at 448x448 with a final sigmoid. With
real weights it is the real model. With random weights the compute cost is the
official one, which is what speed comparisons need, and the weights are calibrated
to behave like a trained network's (`calibrate`): the labels are still meaningless,
but activations stay normalised through the depth and a photo passes 0.5 on a
handful of labels, so float32 rounding stays as small as a trained model's and
parity tests compare backends, not amplified noise.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from pyml.train.export import save_model_dir
from pyml.train.networks import ARCHITECTURES, INPUT_SIZE
from pyml.train.networks import build_network as build_untrained
from tools.sample_photos import sample_photos

COCO80_LABELS = Path(__file__).resolve().parent / "coco80_labels.txt"
CALIBRATION_PASSES = 4  # train-mode forward passes; BatchNorm keeps their average
LABELS_PER_PHOTO = 4.0  # the head bias makes a photo pass 0.5 on about this many labels
LOGIT_SPREAD = 2.0  # std of a class's logit over photos, as a trained head spreads them


def coco_labels() -> list[str]:
    lines = COCO80_LABELS.read_text(encoding="utf-8").splitlines()
    return [line.split(" ", 1)[1] for line in lines if line.strip()]


def build_network(model_name: str, seed: int, weights: Path | None = None):
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()

    if model_name not in ARCHITECTURES:
        raise SystemExit(f"unknown model '{model_name}'; choose one of: {', '.join(ARCHITECTURES)}")
    paddle.seed(seed)
    network = build_untrained(model_name, 80)
    if weights is not None:
        network.set_state_dict(paddle.load(str(weights)))
    network.eval()
    return network


def calibration_batches(size: int, seed: int) -> list[np.ndarray]:
    """The shipped photos, each whole, mirrored and as two seeded crops, preprocessed as
    the exported model's inference.yml says, in CALIBRATION_PASSES shuffled batches."""
    from pyml import _native

    rng = np.random.default_rng(seed)
    views = []
    for rgb in sample_photos().values():
        h, w = rgb.shape[:2]
        views += [rgb, rgb[:, ::-1]]
        for _ in range(2):
            ch, cw = int(h * rng.uniform(0.5, 0.9)), int(w * rng.uniform(0.5, 0.9))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            views.append(rgb[y : y + ch, x : x + cw])
    order = rng.permutation(len(views))
    spec = _native.PreprocessSpec(width=size, height=size)
    pre = _native.Preprocessor(spec, threads=0)
    batch = pre.run([np.ascontiguousarray(views[i][:, :, ::-1]) for i in order])  # BGR, as PaddleX takes arrays
    return np.array_split(batch, CALIBRATION_PASSES)


def _head_bias(network):
    for layer in network.sublayers():
        if type(layer).__name__ == "MLDecoder":
            return layer.group_conv
    raise ValueError("no ML-Decoder head in this network")


def calibrate(network, size: int, seed: int) -> dict:
    """Gives random weights the statistics of trained ones, in place.

    Random weights with BatchNorm's initial statistics (mean 0, variance 1) let
    activations grow layer after layer, and deep networks end in saturated sigmoids
    (about 44 of 80 labels above 0.5). Here BatchNorm takes
    the mean and variance it sees on real photos (train-mode passes, averaged), which
    normalises every layer as training would. Then the head's last layer is scaled and
    shifted per class so that logits spread over photos as a trained head's do and a
    photo passes 0.5 on about LABELS_PER_PHOTO of the 80 labels. Returns what it did."""
    from pyml.backends.device import usable_cores
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()
    paddle.base.core.set_num_threads(usable_cores())  # dygraph's CPU kernels use one thread otherwise
    batches = calibration_batches(size, seed)
    batch_norms = (paddle.nn.BatchNorm, paddle.nn.layer.norm._BatchNormBase)  # ResNet uses the older class
    norms = [layer for layer in network.sublayers() if isinstance(layer, batch_norms)]
    network.train()
    with paddle.no_grad(), warnings.catch_warnings():  # (no passes at all without BatchNorm: CLIP)
        # paddle notes on every train-mode BatchNorm call that it tracks statistics: that is the point
        warnings.filterwarnings("ignore", message="When training, we now always track")
        for k, batch in enumerate(batches if norms else []):
            for norm in norms:  # running = momentum * running + (1 - momentum) * batch: an average
                norm._momentum = k / (k + 1)
            network(paddle.to_tensor(batch))
    for norm in norms:
        norm._momentum = 0.9
    network.eval()
    head = _head_bias(network)
    with paddle.no_grad():
        logits = np.concatenate([network(paddle.to_tensor(b)).numpy() for b in batches])
        centred = logits - logits.mean(axis=0)
        scale = LOGIT_SPREAD / max(float(centred.std()), 1e-12)
        # logits = scale * (w.x + b) - shift: the shift puts LABELS_PER_PHOTO per photo above 0
        shift = float(np.quantile(scale * centred, 1 - LABELS_PER_PHOTO / logits.shape[1]))
        bias = head.bias.numpy()
        head.weight.set_value(head.weight.numpy() * scale)
        head.bias.set_value((scale * (bias - logits.mean(axis=0)) - shift).astype(np.float32))
    after = scale * centred - shift  # the new logits, without another forward pass
    return {
        "batchnorm_layers": len(norms),
        "head_scale": scale,
        "labels_per_photo": float((after > 0).sum(axis=1).mean()),
    }


def export(model_name: str, out_dir: Path, seed: int = 0, weights: Path | None = None, size: int = INPUT_SIZE) -> Path:
    network = build_network(model_name, seed, weights)
    if weights is None:
        calibrate(network, size, seed)
    return save_model_dir(network, out_dir, model_name, coco_labels(), size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(ARCHITECTURES))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--weights", type=Path, help="trained .pdparams to load (default: random)")
    parser.add_argument("--seed", type=int, default=0, help="seed for random weights")
    parser.add_argument(
        "--size",
        type=int,
        default=INPUT_SIZE,
        help="input size (448 is the official one; smaller only for quick tests)",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    out = export(args.model, args.out_dir, args.seed, args.weights, args.size)
    print(f"exported {args.model} to {out} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
