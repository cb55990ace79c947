"""docs/backends.md's parity table: how far each backend's scores are from Paddle's, per
architecture, beside the network's own float32 sensitivity and the parity tolerance.

    python -m benchmarks.parity_table [--models NAME ...]

Each architecture is exported as the tests export it (tools/export_arch: seeded random
weights, calibrated; PP-LCNet at 448, the others at 224), and the test photos
(tests/images.photo_batch) run through Paddle oneDNN fp32 (the reference), Paddle
without oneDNN, OpenVINO and ONNX Runtime fp32, and Paddle and OpenVINO bf16 where the
CPU has bf16 instructions. "fp32 vs fp64" is the same network's dygraph forward in
float32 against float64: the rounding any correct float32 runtime shows, on any CPU.
The demo model's row has no fp64 column (it is shipped as an inference graph only).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = (
    ("Paddle without oneDNN", "paddle", {"enable_mkldnn": False}),
    ("openvino fp32", "openvino", {}),
    ("onnxruntime fp32", "onnxruntime", {}),
    ("paddle bf16", "paddle", {"precision": "bf16"}),
    ("openvino bf16", "openvino", {"precision": "bf16"}),
)


def fp64_gap(network, batch: np.ndarray) -> float:
    """max |sigmoid(fp32 forward) - sigmoid(fp64 forward)| of a dygraph network."""
    from pyml.backends.paddle import import_paddle

    paddle = import_paddle()
    with paddle.no_grad():
        s32 = paddle.nn.functional.sigmoid(network(paddle.to_tensor(batch))).numpy().astype(np.float64)
        network.to(dtype="float64")
        s64 = paddle.nn.functional.sigmoid(network(paddle.to_tensor(batch.astype(np.float64)))).numpy()
        network.to(dtype="float32")
    return float(np.abs(s32 - s64).max())


def row(label: str, model_dir: Path, batch: np.ndarray, sensitivity: float | None) -> str:
    from pyml.backends import create_backend, parity, parse_device
    from pyml.errors import BackendError
    from pyml.model_dir import load_model_dir

    spec = load_model_dir(model_dir)
    cpu = parse_device("cpu")
    reference = create_backend("paddle", spec.model_file, spec.params_file, cpu)(batch)
    cells = [
        label,
        f"{sensitivity:.1e}" if sensitivity is not None else "",
        f"{parity.tolerance_for(spec.model_name).atol:g}",
    ]
    for _, backend, options in COLUMNS:
        try:
            scores = create_backend(backend, spec.model_file, spec.params_file, cpu, **options)(batch)
        except BackendError as exc:
            cells.append("n/a" if "bf16 instructions" in str(exc) else f"error: {str(exc)[:40]}")
            continue
        report = parity.compare(reference, scores, spec.model_name, spec.threshold)
        cells.append(f"{report.max_abs_diff:.1e}" + ("" if report.ok or "bf16" in str(options) else " (fails)"))
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from images import photo_batch

    from benchmarks.common import cpu
    from pyml.models import demo_model_dir
    from tools.export_arch import ARCHITECTURES, build_network, calibrate, coco_labels, save_model_dir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=sorted(ARCHITECTURES))
    args = parser.parse_args()
    print(f"CPU: {cpu()}")
    header = ["model (input)", "fp32 vs fp64", "tolerance"] + [c[0] for c in COLUMNS]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    print(row("demo (trained) (64)", demo_model_dir(), photo_batch(64), None), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            size, seed = (448, 0) if name == "PP-LCNet_x1_0_ML" else (224, 1)  # as tests/conftest.py
            network = build_network(name, seed)
            calibrate(network, size, seed)
            batch = photo_batch(size)
            sensitivity = fp64_gap(network, batch)
            model_dir = save_model_dir(network, Path(tmp) / name, name, coco_labels(), size)
            print(row(f"{name} ({size})", model_dir, batch, sensitivity), flush=True)


if __name__ == "__main__":
    main()
