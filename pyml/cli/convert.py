"""`pyml convert`: a model directory's ONNX file for the openvino and onnxruntime backends."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = (
    "Write MODEL_DIR/inference.onnx (paddle2onnx + constant folding) for the openvino and onnxruntime backends."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir")
    p.add_argument("--force", action="store_true", help="convert again even if an up-to-date file is there")


def run(args) -> int:
    from ..backends.onnx_convert import convert, find_onnx, model_hash
    from ..model_dir import load_model_dir

    model = load_model_dir(Path(args.model_dir))
    target = Path(model.model_file).parent / "inference.onnx"
    digest = model_hash(model.model_file, model.params_file)
    found = find_onnx(model.model_file, model.params_file, digest)
    if found == target and not args.force:
        print(f"pyml convert: {target} is up to date", file=sys.stderr)
        return 0
    convert(model.model_file, model.params_file, target, digest)
    print(f"pyml convert: wrote {target} ({target.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
