"""Real photos that installed packages ship (no download): scikit-learn's two sample
images, matplotlib's Grace Hopper and, if scikit-image is installed, the pictures
it carries in its wheel. RGB uint8 arrays by name, in a fixed order."""

from __future__ import annotations

from functools import cache

import numpy as np

# scikit-image pictures that ship inside its wheel (the rest are fetched by pooch).
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "retina")


@cache
def sample_photos() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_sample_images

    found = {}
    sample = load_sample_images()
    for name, image in zip(sample.filenames, sample.images):
        found["sklearn-" + name.rsplit("/", 1)[-1].split(".")[0]] = image
    try:
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            found["mpl-grace_hopper"] = np.asarray(Image.open(f).convert("RGB"))
    except (ImportError, OSError, ValueError):
        pass
    try:
        from skimage import data
    except ImportError:
        return found
    for name in SKIMAGE_PHOTOS:
        try:
            found["skimage-" + name] = np.ascontiguousarray(getattr(data, name)()[:, :, :3])
        except (AttributeError, OSError, ValueError):  # an older scikit-image without it
            continue
    return found
