"""Triton's extensions beyond KServe v2 that tritonclient and Triton's tools call: the model
repository (index, load, unload), model configuration and statistics, and clear
UNIMPLEMENTED answers for what pyml does not do (shared memory, tracing, log settings).
A mixin of the KServe service: it reads the server's state through `self.state`, its
models through `self.model(name)` / `self.models()`, and loads through `self.control`."""

from __future__ import annotations

import grpc

from ..v1 import kserve_v2_pb2 as kv
from .errors import DRAINING_MESSAGE, abort_with
from .paddlex_api import HPS_MODEL_NAME

INPUT_NAME = "image"
OUTPUT_NAME = "scores"
HPS_INPUT, HPS_OUTPUT = "input", "output"


def repository_index(state, control, ready_only: bool = False) -> list[dict]:
    """Every model the server knows, one entry per loaded version, and those on disk or
    unloaded with their state (READY, LOADING, UNAVAILABLE) and reason: Triton's index,
    for the gRPC call and the HTTP route alike."""
    entries = []
    names = set(state.models) | set(control.status)
    if control.repository is not None:
        names |= set(control.repository.models())
    for name in sorted(names):
        entry = state.models.get(name)
        if entry is not None and entry.versions:
            for version in sorted(entry.versions, key=int):
                if state.draining:
                    entries.append(
                        {"name": name, "version": version, "state": "UNAVAILABLE", "reason": DRAINING_MESSAGE}
                    )
                else:
                    entries.append({"name": name, "version": version, "state": "READY", "reason": ""})
            continue
        status = control.status.get(name)
        state_name, reason = (status.state, status.reason) if status else ("UNAVAILABLE", "not loaded")
        entries.append({"name": name, "version": "", "state": state_name, "reason": reason})
    return [e for e in entries if e["state"] == "READY" or not ready_only]


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
        """Every model the server knows: loaded versions READY, the rest with their state and reason."""
        response = kv.RepositoryIndexResponse()
        for entry in repository_index(self.state, self.control, request.ready):
            response.models.add(**entry)
        if HPS_MODEL_NAME not in self.state.models:
            if self.state.draining and not request.ready:
                response.models.add(name=HPS_MODEL_NAME, version="1", state="UNAVAILABLE", reason=DRAINING_MESSAGE)
            elif not self.state.draining:
                response.models.add(name=HPS_MODEL_NAME, version="1", state="READY")
        return response

    async def ModelConfig(self, request, context):  # noqa: N802
        try:
            return kv.ModelConfigResponse(config=self.model(request.name).config(request.version))
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            await abort_with(context, exc)

    async def ModelStatistics(self, request, context):  # noqa: N802
        if request.name and request.name not in self._model_names():
            try:
                self.state.resolve(request.name, check_draining=False)
            except Exception as exc:  # noqa: BLE001 - unknown, not ready
                await abort_with(context, exc)
        response = kv.ModelStatisticsResponse()
        for name in [request.name] if request.name else self._model_names():
            stats = self.state.metrics.model_statistics(name)
            host = self.state.host(name, request.version)
            entry = response.model_stats.add(
                name=name,
                version=host.version if host else "1",
                last_inference=stats["last_inference_ms"],
                inference_count=stats["inference_count"],
                execution_count=stats["execution_count"],
            )
            for field in ("success", "fail", "queue", "compute_infer"):
                count, ns = stats[field]
                getattr(entry.inference_stats, field).MergeFrom(kv.StatisticDuration(count=count, ns=ns))
            for size, batches in sorted(host.batcher.batch_sizes.items()) if host else ():
                entry.batch_stats.add(batch_size=size, compute_infer=kv.StatisticDuration(count=batches))
        return response

    async def _unimplemented(self, context, what: str, instead: str):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"pyml does not implement {what}: {instead}")

    async def _control(self, context, action) -> None:
        """A load or unload call (`action()`): refused where the mode does not take it,
        else done; a failure ends the call with the table's status."""
        try:
            self.control.check_allowed()
            await action()
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            await abort_with(context, exc)

    async def RepositoryModelLoad(self, request, context):  # noqa: N802
        """Loads (or reloads) a model's versions from the repository: warm before it serves."""
        await self._control(context, lambda: self.control.load(request.model_name))
        return kv.RepositoryModelLoadResponse()

    async def RepositoryModelUnload(self, request, context):  # noqa: N802
        await self._control(context, lambda: self.control.unload(request.model_name))
        return kv.RepositoryModelUnloadResponse()

    async def _no_shared_memory(self, request, context):
        await self._unimplemented(context, "shared memory", "send the encoded images in the request")

    SystemSharedMemoryStatus = SystemSharedMemoryRegister = SystemSharedMemoryUnregister = _no_shared_memory
    CudaSharedMemoryStatus = CudaSharedMemoryRegister = CudaSharedMemoryUnregister = _no_shared_memory

    async def TraceSetting(self, request, context):  # noqa: N802
        await self._unimplemented(context, "tracing", "timings are on the metrics endpoint (--metrics_port)")

    async def LogSettings(self, request, context):  # noqa: N802
        await self._unimplemented(context, "log settings", "start the server with --verbose for detailed logs")


__all__ = ["HPS_INPUT", "HPS_OUTPUT", "INPUT_NAME", "OUTPUT_NAME", "TritonExtensions"]
