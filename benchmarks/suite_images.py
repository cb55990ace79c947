"""The benchmark suite's pictures: real photos that installed packages ship
(scikit-learn, matplotlib, scikit-image), each re-encoded as JPEG q90 at 640x480
and at 4000x3000 (12 MP, upscaled with bicubic)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZES = {"640x480": (640, 480), "12MP": (4000, 3000)}
JPEG_QUALITY = 90


def photos() -> dict[str, np.ndarray]:
    """name -> RGB uint8 array."""
    from matplotlib import cbook
    from PIL import Image
    from skimage import data
    from sklearn.datasets import load_sample_images

    found = {}
    sample = load_sample_images()
    for name, image in zip(sample.filenames, sample.images):
        found["sklearn-" + Path(name).stem] = image
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        found["mpl-grace_hopper"] = np.asarray(Image.open(f).convert("RGB"))
    for name in ("astronaut", "coffee", "chelsea"):
        found["skimage-" + name] = getattr(data, name)()
    return found


def write_image_set(folder: Path) -> dict[str, list[str]]:
    """Writes (once) every photo at every size; returns size name -> file paths."""
    out: dict[str, list[str]] = {}
    originals = None
    for size_name, (width, height) in SIZES.items():
        target = folder / size_name
        target.mkdir(parents=True, exist_ok=True)
        paths = sorted(str(p) for p in target.glob("*.jpg"))
        if not paths:
            originals = originals or photos()
            for name, rgb in originals.items():
                resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC)
                ok, buf = cv2.imencode(
                    ".jpg", cv2.cvtColor(resized, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
                )
                assert ok
                (target / f"{name}.jpg").write_bytes(buf.tobytes())
            paths = sorted(str(p) for p in target.glob("*.jpg"))
        out[size_name] = paths
    return out


def write_crops(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` photo-like pictures for int8 calibration and its held-out check: random
    crops (a third to all of a side), flips and brightness changes of the same photos,
    at 640x480, JPEG q90; written once."""
    folder.mkdir(parents=True, exist_ok=True)
    found = sorted(folder.glob("*.jpg"))
    if len(found) >= count:
        return found[:count]
    rng = np.random.default_rng(seed)
    originals = list(photos().values())
    for i in range(count):
        rgb = originals[i % len(originals)]
        h, w = rgb.shape[:2]
        ch, cw = (int(rng.uniform(0.33, 1.0) * s) for s in (h, w))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = rgb[y : y + ch, x : x + cw]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.clip(crop.astype(np.float32) * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8)
        crop = cv2.resize(crop, SIZES["640x480"], interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        assert ok
        (folder / f"crop_{i:04d}.jpg").write_bytes(buf.tobytes())
    return sorted(folder.glob("*.jpg"))[:count]
