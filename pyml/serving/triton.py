"""Triton's extensions beyond KServe v2 that tritonclient and Triton's tools call: the model
repository index, model configuration and statistics, and clear UNIMPLEMENTED answers for
what pyml does not do (loading models at run time, shared memory, tracing, log settings).
A mixin of the KServe service: it reads the server's state through `self.state` and its
models through `self.model(name)` / `self.models()`."""

from __future__ import annotations

import grpc

from ..v1 import kserve_v2_pb2 as kv
from .bytes_tensor import KServeError

INPUT_NAME = "image"
OUTPUT_NAME = "scores"
HPS_INPUT, HPS_OUTPUT = "input", "output"


def classifier_config(host) -> kv.ModelConfig:
    """Triton's model configuration of a hosted classifier (server.ModelHost)."""
    batcher, pipeline = host.batcher, host.pipeline
    # Triton's convention: with max_batch_size > 0 the dims leave out the batch dimension.
    config = kv.ModelConfig(
        name=host.name, platform="pyml_paddle", backend=pipeline.backend_name, max_batch_size=batcher.max_batch_size
    )
    config.input.add(name=INPUT_NAME, data_type=kv.TYPE_STRING, dims=[1])
    config.output.add(name=OUTPUT_NAME, data_type=kv.TYPE_FP32, dims=[len(pipeline.labels)])
    config.dynamic_batching.max_queue_delay_microseconds = round(batcher.max_queue_delay * 1e6)
    config.dynamic_batching.preferred_batch_size.append(batcher.max_batch_size)
    on_cpu = (pipeline.config.device or "cpu") == "cpu"
    config.instance_group.add(
        name=host.name,
        kind=kv.ModelInstanceGroup.KIND_CPU if on_cpu else kv.ModelInstanceGroup.KIND_GPU,
        count=batcher.instances,
    )
    for key, value in (
        ("model_dir", str(pipeline.model.directory)),
        ("model_name", pipeline.model.model_name),
        ("precision", pipeline.config.precision),
        ("decode_mode", pipeline.config.decode_mode),
    ):
        config.parameters[key].string_value = value
    return config


class TritonExtensions:
    def _model_names(self) -> list[str]:
        return list(self.models())

    async def RepositoryIndex(self, request, context):  # noqa: N802
        """Every model this server hosts; pyml has one repository, the models given at start."""
        response = kv.RepositoryIndexResponse()
        for name in self._model_names():
            if self.state.draining:
                if not request.ready:
                    response.models.add(name=name, version="1", state="UNAVAILABLE", reason="the server is draining")
            else:
                response.models.add(name=name, version="1", state="READY")
        return response

    async def ModelConfig(self, request, context):  # noqa: N802
        try:
            return kv.ModelConfigResponse(config=self.model(request.name).config())
        except KServeError as exc:
            await context.abort(exc.code, str(exc))

    async def ModelStatistics(self, request, context):  # noqa: N802
        if request.name and request.name not in self._model_names():
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no model '{request.name}' on this server")
        response = kv.ModelStatisticsResponse()
        for name in [request.name] if request.name else self._model_names():
            stats = self.state.metrics.model_statistics(name)
            entry = response.model_stats.add(
                name=name,
                version="1",
                last_inference=stats["last_inference_ms"],
                inference_count=stats["inference_count"],
                execution_count=stats["execution_count"],
            )
            for field in ("success", "fail", "queue", "compute_infer"):
                count, ns = stats[field]
                getattr(entry.inference_stats, field).MergeFrom(kv.StatisticDuration(count=count, ns=ns))
            host = self.state.hosts.get(name)
            for size, batches in sorted(host.batcher.batch_sizes.items()) if host else ():
                entry.batch_stats.add(batch_size=size, compute_infer=kv.StatisticDuration(count=batches))
        return response

    async def _unimplemented(self, context, what: str, instead: str):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"pyml does not implement {what}: {instead}")

    async def RepositoryModelLoad(self, request, context):  # noqa: N802
        await self._unimplemented(
            context, "loading models at run time", "a server hosts the models given to `pyml serve --pipeline` at start"
        )

    async def RepositoryModelUnload(self, request, context):  # noqa: N802
        await self._unimplemented(
            context,
            "unloading models at run time",
            "a server hosts the models given to `pyml serve --pipeline` at start",
        )

    async def _no_shared_memory(self, request, context):
        await self._unimplemented(context, "shared memory", "send the encoded images in the request")

    SystemSharedMemoryStatus = SystemSharedMemoryRegister = SystemSharedMemoryUnregister = _no_shared_memory
    CudaSharedMemoryStatus = CudaSharedMemoryRegister = CudaSharedMemoryUnregister = _no_shared_memory

    async def TraceSetting(self, request, context):  # noqa: N802
        await self._unimplemented(context, "tracing", "timings are on the metrics endpoint (--metrics_port)")

    async def LogSettings(self, request, context):  # noqa: N802
        await self._unimplemented(context, "log settings", "start the server with --verbose for detailed logs")


__all__ = ["HPS_INPUT", "HPS_OUTPUT", "INPUT_NAME", "OUTPUT_NAME", "TritonExtensions"]
