#!/usr/bin/env bash
# Makes the PaddleX 3.7.2 environment the benchmark suite compares against:
# a venv under build/ that also sees this Python's site-packages, so pyml and
# the same paddlepaddle are importable beside PaddleX in one process.
# PaddleX needs opencv-contrib-python and pypdfium2 even to classify images, and its
# cv and serving extras for `paddlex --serve` of this pipeline;
# OpenCV is pinned to PaddleX's own pin so both sides decode identically.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${PYML_PADDLEX_VENV:-build/paddlex-venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c 'import paddlex, fastapi, uvicorn, faiss, pycocotools, sys; sys.exit(paddlex.__version__ != "3.7.2")' 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q "paddlex[cv,serving]==3.7.2" "opencv-contrib-python==4.10.0.84" pypdfium2
fi
echo "$VENV/bin/python"
