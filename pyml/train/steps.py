"""What one training step feeds and trains: the whole network on images (full fine-tuning),
or the head alone on the frozen backbone's features (`--freeze backbone`). The trainer's
loop, schedule, checkpoints and reporting are the same for both."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .data import BatchLoader
from .evaluate import network_scores


class FullSteps:
    """Every parameter trains; batches are augmented images. On a CPU (native_threads
    given) the step's depthwise convolutions and hard swishes run on pyml's native
    kernels (native_layers.py); validation and the export use Paddle's layers."""

    description = "full fine-tuning"

    def __init__(self, network, train: BatchLoader, val: BatchLoader, native_threads: int | None) -> None:
        from .native_layers import NativeLayers

        self.network, self.train, self.val = network, train, val
        self.native = NativeLayers(network, native_threads) if native_threads else contextlib.nullcontext()

    def parameters(self) -> list:
        return self.network.parameters()

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for batch in self.train.epoch(epoch):
            yield batch.images, batch.targets

    def logits(self, inputs):
        with self.native:
            return self.network(inputs)

    def val_scores(self) -> tuple[np.ndarray, np.ndarray]:
        return network_scores(self.network, self.val)

    def close(self) -> None:
        pass


class FrozenSteps:
    """Only the head trains; its inputs are the backbone's features (frozen.py)."""

    def __init__(
        self,
        arch: str,
        network,
        train: BatchLoader,
        val: BatchLoader,
        backend: str,
        threads: int,
        cache_root: Path | None,
        progress: bool,
    ) -> None:
        from .frozen import FrozenBackbone, head_of

        self.network, self.train = network, train
        self.head = head_of(arch, network)
        network.eval()  # the backbone's batch norm statistics and dropout stay as loaded
        self.head.train()
        self.backbone = FrozenBackbone(arch, network, train.size, backend, threads)
        self.val_features = self.backbone.all_features(val, "val", progress)
        self.val_targets = np.stack([s.labels for s in val.samples])
        self.cached = None
        if cache_root is not None:
            plain = BatchLoader(train.samples, train.size, train.batch_size, train.seed, threads=train.threads)
            self.cached = self.backbone.cached_features(plain, cache_root, progress)
        self.description = f"head only; backbone frozen on {backend}" + (
            ", features cached" if self.cached is not None else ""
        )

    def parameters(self) -> list:
        return self.head.parameters()

    def batches(self, epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self.cached is None:
            for batch in self.train.epoch(epoch):
                yield self.backbone.features(batch.images), batch.targets
            return
        samples = self.train.samples
        for chunk in self.train.chunks(epoch):  # the same order an uncached epoch has
            yield np.asarray(self.cached[chunk]), np.stack([samples[i].labels for i in chunk])

    def logits(self, inputs):
        return self.head(inputs.astype("float32"))

    def val_scores(self) -> tuple[np.ndarray, np.ndarray]:
        import paddle

        self.head.eval()
        scores = []
        with paddle.no_grad():
            for start in range(0, len(self.val_features), self.train.batch_size):
                part = paddle.to_tensor(np.asarray(self.val_features[start : start + self.train.batch_size]))
                scores.append(paddle.nn.functional.sigmoid(self.logits(part)).numpy())
        self.head.train()
        return self.val_targets, np.concatenate(scores)

    def close(self) -> None:
        self.backbone.close()


__all__ = ["FrozenSteps", "FullSteps"]
