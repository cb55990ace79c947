"""One loaded version of a model (ModelHost: its pipeline and its batcher, what every door
classifies through), and how the server builds one (host_builder: for ModelControl)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import grpc

from ..v1 import classifier_pb2 as pb
from .batcher import DynamicBatcher
from .metrics import ServerMetrics
from .options import ServerOptions
from .prepare import build_pipeline, prepare_in_background
from .state import ServerState
from .wire import error_response, label_filter_of, response_of, source_of, threshold_of

if TYPE_CHECKING:
    from ..pipeline import MultiLabelClassificationPipeline

log = logging.getLogger(__name__)
STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class ModelHost:
    """One loaded version of a model: its pipeline and its batcher."""

    def __init__(
        self,
        name: str,
        pipeline: MultiLabelClassificationPipeline,
        options: ServerOptions,
        metrics: ServerMetrics,
        version: str = "1",
    ) -> None:
        self.name = name
        self.version = version
        self.fingerprint: tuple | None = None  # the repository files it was loaded from (control.py)
        self.pipeline = pipeline
        self.metrics = metrics
        self.batcher = DynamicBatcher(
            pipeline,
            options.max_batch_size,
            options.max_queue_delay_ms,
            options.max_queue,
            metrics=metrics,
            name=name,
            instances=options.instances,
        )

    async def classify(
        self, request: pb.ClassifyRequest, fallback_name: str, timeout: float | None
    ) -> pb.ClassifyResponse:
        """Never raises for a bad request: the error goes into the response."""
        started = time.perf_counter()
        try:
            source = source_of(request, fallback_name)
            threshold = self.pipeline.resolve_threshold(threshold_of(request), label_filter_of(request))
            top_k = request.top_k or self.pipeline.config.top_k
            result = await self.batcher.submit(source, threshold, top_k, timeout)
            response = response_of(request.request_id, self.name, result)
        except Exception as exc:  # noqa: BLE001 - every failure is reported in this item's response
            response = error_response(request.request_id, self.name, exc)
        response.version = self.version
        code = STATUS_BY_NUMBER[response.error.code] if response.HasField("error") else grpc.StatusCode.OK
        self.metrics.request(self.name, "grpc", code.name, started)
        log.debug(
            "%s %s -> %s in %.1f ms",
            self.name,
            request.request_id or fallback_name,
            response.error.reason or f"{len(response.categories)} labels",
            (time.perf_counter() - started) * 1000,
        )
        return response

    def info(self, models: list[str], versions: list[str]) -> pb.ModelInfo:
        p = self.pipeline
        size = p.model.input_size or (0, 0)
        default = p.resolve_threshold(None)
        return pb.ModelInfo(
            name=self.name,
            labels=p.display_names,
            input_width=size[0],
            input_height=size[1],
            default_threshold=float(default) if isinstance(default, float) else 0.0,
            decode_mode=p.config.decode_mode,
            max_batch_size=self.batcher.max_batch_size,
            models=models,
            version=self.version,
            versions=versions,
        )


WARM_PICTURE = "digits_01.jpg"  # of pyml/demo/images: any JPEG warms a model; this one ships with pyml


def _warm_picture() -> bytes:
    from ..models import demo_model_dir

    return (demo_model_dir().parent / "images" / WARM_PICTURE).read_bytes()


def host_builder(options: ServerOptions, metrics: ServerMetrics, state: ServerState):
    """build_host(name, version, source) for ModelControl: a pipeline from a repository
    entry (or one made already), its instances, warmed. Runs on a worker thread. While
    other models serve, a version's first-load work (conversion, auto's timing) runs first
    in a child process at the lowest priority (prepare.py), so it does not starve them."""
    picture = _warm_picture()
    pipeline_options = {**options.pipeline_overrides, "batch_size": options.max_batch_size}

    def build(name: str, version: str, source) -> ModelHost:
        from ..pipeline import MultiLabelClassificationPipeline

        if isinstance(source, MultiLabelClassificationPipeline):
            pipeline = source
        else:
            if state.hosts:
                prepare_in_background(source, pipeline_options)
            pipeline = build_pipeline(source, pipeline_options)
        host = ModelHost(name, pipeline, options, metrics, version)
        host.batcher.warm(picture)
        return host

    return build


__all__ = ["STATUS_BY_NUMBER", "WARM_PICTURE", "ModelHost", "host_builder"]
