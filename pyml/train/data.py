"""Training batches: files read and preprocessed by pyml's native core (the code that
serves, so training sees exactly what inference sees), augmented once per batch on the
tensor with numpy, and prepared on a helper thread while the previous batch trains.

Every random choice of an epoch comes from a generator seeded by (seed, epoch), so an
epoch is the same whether the run was interrupted before it or not (`--resume` is exact).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .. import _native
from ..errors import ConfigError
from ..inputs import ImageSource, native_item
from .dataset import Sample

AUGMENTATIONS = ("flip", "color", "cutout")
DEFAULT_AUGMENT = "flip,color,cutout"
PREFETCH = 2  # batches prepared ahead of the one training


def parse_augment(text: str | None) -> tuple[str, ...]:
    """'flip,color' -> ('flip', 'color'); '' or 'none' -> ()."""
    if text is None or text.strip().lower() in ("", "none"):
        return ()
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ConfigError(f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}")
    return names


def augment_batch(x: np.ndarray, names: tuple[str, ...], rng: np.random.Generator) -> np.ndarray:
    """Augments a normalized float32 [N, 3, H, W] batch in place, one vectorized step each.

    flip: mirror left-right with probability 1/2 per image (PaddleClas' RandFlipImage);
    color: brightness and contrast jitter per image, x * a + b with a in [0.8, 1.2] and b
    in [-0.2, 0.2] (in normalized units; a cheap stand-in for RandAugment's colour ops);
    cutout: one square of side H/4 per image set to 0, the dataset mean colour (Cutout)."""
    n, _, h, w = x.shape
    if "flip" in names:
        flipped = rng.random(n) < 0.5
        x[flipped] = x[flipped][:, :, :, ::-1]
    if "color" in names:
        gain = rng.uniform(0.8, 1.2, (n, 1, 1, 1)).astype(np.float32)
        shift = rng.uniform(-0.2, 0.2, (n, 1, 1, 1)).astype(np.float32)
        x *= gain
        x += shift
    if "cutout" in names:
        half = max(1, h // 8)
        cy = rng.integers(0, h, n)[:, None, None]
        cx = rng.integers(0, w, n)[:, None, None]
        rows = np.abs(np.arange(h)[None, :, None] - cy) < half
        cols = np.abs(np.arange(w)[None, None, :] - cx) < half
        x *= ~(rows & cols)[:, None, :, :]
    return x


@dataclass
class Batch:
    images: np.ndarray  # float32 [N, 3, H, W]
    targets: np.ndarray  # float32 [N, C]


def preprocessor_for(size: int, threads: int = 0) -> _native.Preprocessor:
    """The preprocessing the exported inference.yml describes: PIL-bilinear stretch to
    size x size, ImageNet mean/std."""
    from .export import IMAGENET_MEAN, IMAGENET_STD

    spec = _native.PreprocessSpec(width=size, height=size, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return _native.Preprocessor(spec, threads=threads)


class BatchLoader:
    def __init__(
        self,
        samples: list[Sample],
        size: int,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = False,
        augment: tuple[str, ...] = (),
        threads: int = 0,
    ) -> None:
        if not samples:
            raise ConfigError("no samples to load")
        self.samples = samples
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.augment = augment
        self.size, self.threads = size, threads
        self._preprocessor = preprocessor_for(size, threads)

    def steps(self) -> int:
        full, rest = divmod(len(self.samples), self.batch_size)
        # A last training batch of one image is dropped: batch norm cannot train on it.
        return full + (1 if rest > 1 or (rest == 1 and not self.shuffle) else 0)

    def _load(self, indices: np.ndarray, rng: np.random.Generator | None) -> Batch:
        chosen = [self.samples[i] for i in indices]
        items = [native_item(ImageSource(str(s.path), s.path.read_bytes())) for s in chosen]
        images = self._preprocessor.run(items)
        if rng is not None and self.augment:
            augment_batch(images, self.augment, rng)
        return Batch(images, np.stack([s.labels for s in chosen]))

    def chunks(self, epoch: int = 0) -> list[np.ndarray]:
        """The sample indices of each batch of one epoch, in the epoch's order."""
        order_rng = np.random.default_rng([self.seed, epoch, 0])
        order = order_rng.permutation(len(self.samples)) if self.shuffle else np.arange(len(self.samples))
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)][: self.steps()]

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        """The batches of one epoch, in the epoch's order."""
        chunks = self.chunks(epoch)
        aug_rng = np.random.default_rng([self.seed, epoch, 1]) if self.shuffle else None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyml-train-load") as loader:
            # One thread, in order, so the augmentation generator is drawn in the same order every run.
            pending = [loader.submit(self._load, chunk, aug_rng) for chunk in chunks[:PREFETCH]]
            for k in range(len(chunks)):
                batch = pending.pop(0).result()
                if k + PREFETCH < len(chunks):
                    pending.append(loader.submit(self._load, chunks[k + PREFETCH], aug_rng))
                yield batch


__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_AUGMENT",
    "Batch",
    "BatchLoader",
    "augment_batch",
    "parse_augment",
    "preprocessor_for",
]
