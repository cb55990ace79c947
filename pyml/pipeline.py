"""The multi-label classification pipeline: batching and the flow, nothing else.

    sources -> native preprocess (batch, GIL released) -> backend -> native postprocess -> results

While the backend runs batch k, a helper thread reads batch k+1 and, for a
backend that leaves cores idle (Backend.overlap_preprocess), preprocesses it too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from . import _native
from .backends import Backend, create_backend, parse_device
from .backends.device import resolve_threads, usable_cores
from .catalogue import categories_for
from .config import PipelineConfig
from .errors import ConfigError, InputError, ModelError
from .inputs import ImageSource, iter_sources, native_item
from .label_filter import LabelFilter, read_display_names, restrict
from .model_dir import ModelSpec, load_model_dir
from .models import demo_model_dir, resolve_model_dir
from .results import MultiLabelResult
from .thresholds import Threshold, resolve_threshold

log = logging.getLogger(__name__)
ON_ERROR = ("raise", "return")


@dataclass
class _Prepared:
    """A batch after preprocessing: its sources, its tensor, and per-item errors."""

    sources: list[ImageSource]
    tensor: np.ndarray | None
    errors: dict[int, InputError]


class MultiLabelClassificationPipeline:
    """Created by pyml.create_pipeline(); `predict()` is the way in."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        model_dir = resolve_model_dir(config.model_name, config.model_dir)
        self.model: ModelSpec = load_model_dir(model_dir)
        spec = _native.PreprocessSpec(**self.model.preprocess, decode_mode=config.decode_mode)
        self._preprocessor = _native.Preprocessor(spec, threads=config.preprocess_threads)
        size = self.model.input_size or (self.model.preprocess["short_side"],) * 2
        shape = (config.batch_size, 3, size[1], size[0])
        self._backend = create_backend(
            config.backend,
            self.model.model_file,
            self.model.params_file,
            parse_device(config.device),
            cpu_threads=config.cpu_threads,
            enable_mkldnn=config.enable_mkldnn,
            precision=config.precision,
            input_shape=shape,
            model_name=self.model.model_name,
            sample=self._sample_batch(shape) if config.backend == "auto" else None,
            measure=config.auto_measure,
        )
        self._check_outputs()
        self._model_threshold = self._resolve(
            config.threshold if config.threshold is not None else self.model.threshold,
            "pipeline threshold" if config.threshold is not None else f"{model_dir}/inference.yml threshold",
        )
        names = self.labels if len(self.labels) == self.num_classes else [str(c) for c in range(self.num_classes)]
        self.class_names = names
        self.categories = categories_for(names, self.model.categories)
        self.label_filter = LabelFilter.of(config, f"{config.source}: ")
        self._excluded = self.label_filter.excluded(names, self.categories)
        self._default_threshold = restrict(self._model_threshold, self._excluded)
        # the names results show: the model's, or a label map's (filters still take the model's)
        self.display_names = read_display_names(config.label_names, names) if config.label_names else names
        log.info(
            "pipeline ready: %s from %s on %s (backend %s, %s, batch %d, %s math threads, "
            "%s preprocess threads, decode %s)",
            self.model.model_name,
            model_dir,
            config.device or "cpu",
            self.backend_name,
            config.precision,
            config.batch_size,
            resolve_threads(config.cpu_threads),
            config.preprocess_threads or usable_cores(),
            config.decode_mode,
        )

    def _sample_batch(self, shape: tuple) -> np.ndarray | None:
        """The demo pictures, preprocessed for this model: real-picture input for `auto`'s
        parity check (a network sees noise very differently from photos)."""
        pictures = sorted((demo_model_dir().parent / "images").glob("*.jpg"))
        if not pictures:
            return None
        encoded = [pictures[i % len(pictures)].read_bytes() for i in range(shape[0])]
        batch = self._preprocessor.run(encoded)
        return batch if batch.shape == shape else None  # a resize_short model's shape varies

    @property
    def backend_name(self) -> str:
        """The backend answering now (auto measuring while serving switches once)."""
        return getattr(self._backend, "name", self.config.backend)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @property
    def excluded(self) -> np.ndarray | None:
        """The classes the pipeline's label filter takes out (a bool per class), or None."""
        return self._excluded

    def _check_outputs(self) -> None:
        """One warm-up run: fails early, with the file named, if labels and outputs disagree."""
        size = self.model.input_size or (self.model.preprocess["short_side"],) * 2
        scores = self._backend(np.zeros((1, 3, size[1], size[0]), np.float32))
        self.num_classes = int(scores.shape[-1])
        if self.model.labels and len(self.model.labels) != self.num_classes:
            raise ModelError(
                f"{self.model.directory}/inference.yml: label_list has "
                f"{len(self.model.labels)} names but the model outputs "
                f"{self.num_classes} scores"
            )

    def _resolve(self, threshold: Any, where: str):
        return resolve_threshold(threshold, self.num_classes, where)

    # -- the flow ---------------------------------------------------------

    def _prepare(self, sources: list[ImageSource]) -> _Prepared:
        errors: dict[int, InputError] = {}
        items: list[Any] = []
        for i, source in enumerate(sources):
            try:
                if source.error is not None:
                    raise source.error
                items.append(native_item(source))
            except InputError as exc:
                errors[i] = exc
                items.append(b"")  # a placeholder the native core rejects; its slot is zeroed
        tensor, failed = self._preprocessor.run(items, errors="return")
        for index, reason, message in failed:
            if index not in errors:
                name = sources[index].name
                errors[index] = InputError(f"{name}: {message}", reason=reason, source=name)
        return _Prepared(sources, tensor, errors)

    def infer_prepared(
        self,
        batch: _Prepared,
        thresholds: list[Threshold],
        top_ks: list[int | None],
        backend: Backend | None = None,
    ) -> list[MultiLabelResult]:
        """The second half of a batch: the model and the labels for the good rows of a
        prepared batch; thresholds/top_ks are per item. `backend`: one of
        instance_backends(), for a caller running several at once."""
        backend = backend or self._backend
        good = [i for i in range(len(batch.sources)) if i not in batch.errors]
        labels_by_index: dict[int, tuple[list[int], list[float]]] = {}
        rows_by_index: dict[int, np.ndarray] = {}
        if good:
            tensor = batch.tensor if len(good) == len(batch.sources) else batch.tensor[good]
            scores = backend(tensor)
            if all(t is thresholds[good[0]] for t in thresholds) and len(set(top_ks)) == 1:
                rows = _native.postprocess(scores, thresholds[good[0]], top_ks[0])  # one call
            else:
                rows = [_native.postprocess(scores[r : r + 1], thresholds[i], top_ks[i])[0] for r, i in enumerate(good)]
            labels_by_index = dict(zip(good, rows))
            rows_by_index = {i: scores[r] for r, i in enumerate(good)}
        results = []
        for i, source in enumerate(batch.sources):
            if i in batch.errors:
                results.append(MultiLabelResult(source.name, error=batch.errors[i], image=source.data))
                continue
            ids, values = labels_by_index[i]
            names = [self.display_names[c] for c in ids]
            # PaddleX reports np.around(score, 5) of the float32 score (round half to even).
            rounded = np.around(np.asarray(values, np.float64), 5).tolist()
            categories = [self.categories[c] if c < len(self.categories) else "" for c in ids]
            results.append(
                MultiLabelResult(
                    source.name,
                    ids,
                    rounded,
                    names,
                    image=source.data,
                    all_scores=rows_by_index[i],
                    categories=categories,
                )
            )
        return results

    def resolve_threshold(self, threshold: Any, label_filter: LabelFilter | None = None) -> Threshold:
        """A request's threshold in the native form; None means the pipeline's default. A
        request's label filter is applied on top of the pipeline's (label_filter.py)."""
        if threshold is None and not label_filter:
            return self._default_threshold
        base = self._model_threshold if threshold is None else self._resolve(threshold, "threshold")
        if not label_filter:
            return restrict(base, self._excluded)
        return restrict(base, self.label_filter.merged(label_filter).excluded(self.class_names, self.categories))

    def instance_backends(self, count: int) -> list[Backend]:
        """`count` backends for running batches on `count` threads at once: this pipeline's
        own and clones of it (each its own predictor, sharing the weights where the runtime can)."""
        return [self._backend] + [self._backend.clone() for _ in range(count - 1)]

    def prepare(self, sources: list[ImageSource]) -> _Prepared:
        """The first half of a batch: read and preprocess (native, GIL released)."""
        return self._prepare(sources)

    def predict(
        self,
        input: Any,
        batch_size: int | None = None,
        threshold: Any = None,
        top_k: int | None = None,
        on_error: str = "raise",
    ) -> Iterator[MultiLabelResult]:
        """Lazily classifies `input` (see pyml.inputs for the kinds), one result per image.

        threshold: a number, a per-class list, or {"default": t, class_id: t, ...};
        it overrides the pipeline config, which overrides the model's inference.yml.
        on_error="raise" raises InputError at the first bad image (PaddleX behaviour);
        "return" yields a result with `.error` set for it and goes on.
        """
        if on_error not in ON_ERROR:
            raise ConfigError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")
        batch_size = self.config.with_overrides(batch_size=batch_size).batch_size
        top_k = self.config.with_overrides(top_k=top_k).top_k
        return self._run(iter_sources(input), batch_size, self.resolve_threshold(threshold), top_k, on_error)

    def _run(
        self, sources: Iterator[ImageSource], batch_size: int, threshold, top_k, on_error: str
    ) -> Iterator[MultiLabelResult]:
        # The helper always reads the next batch (files, URLs) during this one's inference;
        # it decodes it there too only when the backend leaves cores for that.
        overlap = getattr(self._backend, "overlap_preprocess", True)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyml-prepare") as helper:

            def next_batch():
                chunk = list(islice(sources, batch_size))
                return (self._prepare(chunk) if overlap else chunk) if chunk else None

            pending = helper.submit(next_batch)
            while (batch := pending.result()) is not None:
                pending = helper.submit(next_batch)  # overlaps with the inference below
                if not overlap:
                    batch = self._prepare(batch)
                n = len(batch.sources)
                for result in self.infer_prepared(batch, [threshold] * n, [top_k] * n):
                    if result.error is not None and on_error == "raise":
                        raise result.error
                    yield result

    def __call__(self, input: Any, **kwargs) -> list[MultiLabelResult]:
        return list(self.predict(input, **kwargs))
