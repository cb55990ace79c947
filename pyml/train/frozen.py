"""`--freeze backbone`: only the head trains; the backbone runs through pyml's inference path.

The backbone (everything before the head: the ML-Decoder of the six, the last linear
layer of the demo network) is exported once as a static program and run by an inference
backend (Paddle Inference with oneDNN by default, as at serving time), several times
faster than the dynamic graph computes the same forward. Its output, the head's input,
is rounded to float16 whether cached or not, so a cached run and an uncached run without
augmentation feed the head the same numbers. Validation features stay float32.

With `--cache_features` the backbone runs once per training image, without augmentation,
and its features are kept on disk (float16, .npy) under OUT/feature_cache/<key>/; every
epoch after that trains the head alone. The key covers the backbone's weights, the input
size and the images (path, size, modification time), so a changed dataset is never
served stale features. The validation split is always computed once per run (it is not
augmented, so every epoch would see the same features).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..atomic import atomic_dir
from ..errors import ConfigError
from ..progress import progress_bar
from .data import BatchLoader
from .networks import ARCHITECTURES, DEMO_ARCH

log = logging.getLogger(__name__)

FREEZE_CHOICES = ("none", "backbone")
FEATURE_DTYPE = np.float16


def head_name(arch: str, network) -> str:
    """The attribute holding the trainable head: PaddleClas puts the ML-Decoder in place of
    the backbone's `fc` (CLIP: `head`); the demo network's head is its last layer."""
    if arch == DEMO_ARCH:
        return list(network.named_children())[-1][0]
    if arch in ARCHITECTURES:
        return ARCHITECTURES[arch]["MLDecoder"].get("replace_layer", "fc")
    raise ConfigError(f"--freeze backbone: no known head for architecture {arch!r}")


def head_of(arch: str, network):
    return getattr(network, head_name(arch, network))


@contextlib.contextmanager
def without_head(arch: str, network) -> Iterator[None]:
    """The network with its head replaced by an identity, so that it outputs the head's input."""
    from paddle import nn

    name = head_name(arch, network)
    head = getattr(network, name)
    setattr(network, name, nn.Identity())
    try:
        yield
    finally:
        setattr(network, name, head)


def export_backbone(arch: str, network, size: int, folder: Path) -> tuple[Path, Path]:
    """Saves the network minus its head as a static program; returns (model, params) files."""
    from .export import save_static

    with without_head(arch, network):
        save_static(folder / "backbone", size, network)
    model = folder / "backbone.json"
    if not model.is_file():
        model = folder / "backbone.pdmodel"
    return model, folder / "backbone.pdiparams"


def _samples_key(samples) -> str:
    digest = hashlib.sha256()
    for s in samples:
        stat = s.path.stat()
        digest.update(f"{s.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class FrozenBackbone:
    """The backbone's forward through an inference backend, and the feature cache."""

    def __init__(self, arch: str, network, size: int, backend: str = "paddle", threads: int = 0) -> None:
        from ..backends import create_backend, parse_device

        self._folder = Path(tempfile.mkdtemp(prefix="pyml-backbone-"))
        model, params = export_backbone(arch, network, size, self._folder)
        digest = hashlib.sha256()
        digest.update(params.read_bytes())
        self.weights_key = f"{arch}-{size}-{digest.hexdigest()[:16]}"
        self._backend = create_backend(backend, model, params, parse_device("cpu"), cpu_threads=threads)

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def features(self, images: np.ndarray, dtype=FEATURE_DTYPE) -> np.ndarray:
        """Features of a float32 [N, 3, H, W] batch (float16 for training: see the module's doc)."""
        return np.asarray(self._backend(images)).astype(dtype)

    def _fill(self, loader: BatchLoader, make, dtype, what: str, progress: bool) -> np.ndarray:
        """The features of a loader's unaugmented epoch 0, in sample order, written into
        make(shape) (an array or a memory map) as the batches come."""
        out, start = None, 0
        bar = progress_bar(len(loader.samples), what, unit="img", enabled=progress, leave=False)
        for batch in loader.epoch(0):
            part = self.features(batch.images, dtype)
            if out is None:
                out = make((len(loader.samples), *part.shape[1:]))
            out[start : start + len(part)] = part
            start += len(part)
            bar.update(len(part))
        bar.close()
        return out

    def all_features(self, loader: BatchLoader, what: str, progress: bool) -> np.ndarray:
        """float32 features of a loader's samples, in memory. Kept at full precision:
        validation scores then match the export's (calibration uses them)."""
        return self._fill(loader, lambda shape: np.empty(shape, np.float32), np.float32, f"features ({what})", progress)

    def cached_features(self, loader: BatchLoader, root: Path, progress: bool) -> np.ndarray:
        """The features of the loader's samples from OUT/feature_cache, computing them once.
        Returned as a read-only memory map: a dataset larger than memory stays on disk."""
        key = hashlib.sha256(f"{self.weights_key}|{_samples_key(loader.samples)}".encode()).hexdigest()[:20]
        path = root / key / "features.npy"
        if path.is_file():
            log.info("features from the cache %s", path)
        else:
            with atomic_dir(root / key) as staging:

                def on_disk(shape):
                    return np.lib.format.open_memmap(staging / path.name, "w+", FEATURE_DTYPE, shape)

                self._fill(loader, on_disk, FEATURE_DTYPE, "caching features", progress).flush()
        return np.load(path, mmap_mode="r")


__all__ = [
    "FEATURE_DTYPE",
    "FREEZE_CHOICES",
    "FrozenBackbone",
    "export_backbone",
    "head_name",
    "head_of",
    "without_head",
]
