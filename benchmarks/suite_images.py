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
