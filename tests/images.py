"""Test images: real photos that installed packages ship, and generated ones,
encoded with OpenCV or Pillow so that every JPEG/PNG variant is covered."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from tools.sample_photos import sample_photos

# The photos the tests use (a subset of what tools/sample_photos.py finds; the model
# exports are calibrated on all of them).
TEST_PHOTOS = ("sklearn-china", "sklearn-flower", "mpl-grace_hopper", "skimage-astronaut", "skimage-coffee")


def photos() -> dict[str, np.ndarray]:
    """Real RGB photos from scikit-learn, matplotlib and (if installed) scikit-image."""
    found = sample_photos()
    return {name: found[name] for name in TEST_PHOTOS if name in found}


def gradient(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB image with some noise: compresses like a photo, any size."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 128 + 100 * np.sin(x / max(width, 1) * 6.0)
    g = 128 + 100 * np.cos(y / max(height, 1) * 5.0)
    b = (x + y) * 255.0 / max(width + height, 1)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 90, progressive: bool = False) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)]
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    assert ok
    return buf.tobytes()


def pil_bytes(image: Image.Image, fmt: str, **save_args) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save_args)
    return out.getvalue()


def grey_jpeg(width: int = 301, height: int = 197) -> bytes:
    return pil_bytes(Image.fromarray(gradient(width, height)[:, :, 1]), "JPEG", quality=90)


def cmyk_jpeg(width: int = 250, height: int = 170) -> bytes:
    return pil_bytes(Image.fromarray(gradient(width, height)).convert("CMYK"), "JPEG", quality=92)


def exif_jpeg(orientation: int, width: int = 160, height: int = 90) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return pil_bytes(
        Image.fromarray(gradient(width, height, seed=orientation)), "JPEG", quality=90, exif=exif.tobytes()
    )


def png_variants() -> dict[str, bytes]:
    rgb = gradient(173, 121, seed=3)
    rgba = np.dstack([rgb, np.linspace(0, 255, 173 * 121).reshape(121, 173).astype(np.uint8)])
    grey16 = (gradient(97, 61)[:, :, 0].astype(np.uint16) * 257 + 123).astype(np.uint16)
    rgb16 = rgb.astype(np.uint16) * 257 + np.uint16(77)
    return {
        "rgb": pil_bytes(Image.fromarray(rgb), "PNG"),
        "rgba": pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"),
        "grey": pil_bytes(Image.fromarray(rgb[:, :, 0]), "PNG"),
        "grey_alpha": pil_bytes(Image.fromarray(rgba[:, :, [0, 3]], "LA"), "PNG"),
        "palette": pil_bytes(Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE), "PNG"),
        "one_bit": pil_bytes(Image.fromarray(rgb[:, :, 0] > 128), "PNG"),
        "grey16": cv2.imencode(".png", grey16)[1].tobytes(),
        "rgb16": cv2.imencode(".png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))[1].tobytes(),
    }


def photo_batch(size: int) -> np.ndarray:
    """The test photos preprocessed for a model of input size x size (ImageNet mean and
    std, Pillow bilinear: what the exports' inference.yml asks), float32 NCHW."""
    from pyml import _native

    pre = _native.Preprocessor(_native.PreprocessSpec(width=size, height=size), threads=0)
    return pre.run([np.ascontiguousarray(rgb[:, :, ::-1]) for rgb in photos().values()])
