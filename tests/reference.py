"""The reference path pyml must match: PaddleX's preprocessing and postprocessing
rebuilt from OpenCV, Pillow and numpy (what PaddleX itself calls), written for the tests."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def decode(buf: bytes) -> np.ndarray:
    """cv2.imdecode(IMREAD_COLOR) then BGR->RGB."""
    bgr = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None, "OpenCV could not decode the reference image"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def resize_pil(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR))


def resize_cv(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)


def normalize_chw(rgb: np.ndarray, scale=1 / 255, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """float32 `x * (scale/std) + (-mean/std)` per channel, then HWC -> CHW (PaddleX's order of ops)."""
    planes = []
    for c in range(3):
        plane = rgb[:, :, c].astype(np.float32)
        plane *= scale / std[c]
        plane += -mean[c] / std[c]
        planes.append(plane)
    return np.stack(planes)


def preprocess(buf_or_bgr, width=448, height=448, resize=resize_pil) -> np.ndarray:
    if isinstance(buf_or_bgr, np.ndarray):
        rgb = cv2.cvtColor(buf_or_bgr, cv2.COLOR_BGR2RGB)
    else:
        rgb = decode(buf_or_bgr)
    return normalize_chw(resize(rgb, width, height))


def postprocess(scores: np.ndarray, thresholds, top_k=None):
    """Per row: classes with score > threshold[c] (float32 compare), high score first,
    ties by class id; then the first top_k."""
    scores = np.asarray(scores, np.float32)
    thr = np.broadcast_to(np.asarray(thresholds, np.float32), scores.shape[1:])
    out = []
    for row in scores:
        ids = np.nonzero(row > thr)[0]
        ids = ids[np.argsort(-row[ids], kind="stable")]
        if top_k:
            ids = ids[:top_k]
        out.append(([int(i) for i in ids], [float(row[i]) for i in ids]))
    return out
