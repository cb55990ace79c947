"""The KServe v2 (Triton) gRPC inference protocol on pyml's port, so that an unchanged
tritonclient.grpc client can call pyml.

Model `<name>` takes one BYTES input `image` of shape [N] or [N, 1] (encoded image
files) and returns FP32 `scores` [N, num_classes]. Requesting `scores` with the
`classification` parameter k returns, as Triton's classification extension does,
BYTES [N, k] strings "score:index:label", high score first. Images of one request
go through the model's dynamic batcher like every other request.

The model `multilabel-image-classification` is PaddleX's high-performance serving
(HPS) wire form: one BYTES input `input` [1, 1] holding the HTTP API's request JSON,
one BYTES output `output` [1, 1] holding its response JSON, answered by the same
code as the HTTP door (paddlex_api.py), so PaddleX's HPS clients work unchanged.
"""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import numpy as np

from .. import __version__
from ..errors import count
from ..inputs import ImageSource
from ..v1 import kserve_v2_pb2 as kv
from ..v1 import kserve_v2_pb2_grpc as kv_grpc
from .bytes_tensor import KServeError, bytes_elements, encode_bytes_tensor
from .errors import abort_with, status_of
from .lenient import MalformedRequest
from .paddlex_api import HPS_MODEL_NAME
from .triton import HPS_INPUT, HPS_OUTPUT, INPUT_NAME, OUTPUT_NAME, TritonExtensions, classifier_config


class ClassifierModel:
    """A hosted classifier as KServe sees it: BYTES `image` [N] in, FP32 `scores` out. It
    holds only the name: each call resolves its version in the server's state."""

    platform = "pyml_paddle"
    counted = True  # the KServe door counts its calls in the server's metrics

    def __init__(self, state, name: str) -> None:
        self.state = state
        self.name = name

    def metadata(self, version: str = "") -> kv.ModelMetadataResponse:
        host = self.state.resolve(self.name, version, check_draining=False)
        versions = sorted(self.state.models[self.name].versions, key=int)
        meta = kv.ModelMetadataResponse(name=self.name, versions=versions, platform=self.platform)
        meta.inputs.add(name=INPUT_NAME, datatype="BYTES", shape=[-1])
        meta.outputs.add(name=OUTPUT_NAME, datatype="FP32", shape=[-1, len(host.pipeline.labels)])
        return meta

    def config(self, version: str = "") -> kv.ModelConfig:
        return classifier_config(self.state.resolve(self.name, version, check_draining=False))

    def _images(self, request) -> list[bytes]:
        if len(request.inputs) != 1 or request.inputs[0].name != INPUT_NAME:
            raise KServeError(grpc.StatusCode.INVALID_ARGUMENT, f"expected one input named '{INPUT_NAME}'")
        tensor = request.inputs[0]
        if tensor.datatype != "BYTES":
            raise KServeError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input '{INPUT_NAME}' must be BYTES (encoded images), not {tensor.datatype}",
            )
        shape = list(tensor.shape)
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise KServeError(grpc.StatusCode.INVALID_ARGUMENT, f"input shape must be [N] or [N, 1], not {shape}")
        items = bytes_elements(request)
        if len(items) != shape[0]:
            raise KServeError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input shape says {count(shape[0], 'image')} but {len(items)} were sent",
            )
        return items

    async def infer(self, request, timeout: float | None) -> kv.ModelInferResponse:
        images = self._images(request)
        try:  # resolved and queued in one step: a swap cannot come between them
            host = self.state.resolve(self.name, request.model_version)
            futures = [
                host.batcher.submit(ImageSource(f"{request.id or 'input'}[{i}]", data), 0.0, None, timeout)
                for i, data in enumerate(images)
            ]
        except Exception as exc:  # noqa: BLE001 - unknown version, overload, draining
            raise KServeError(status_of(exc).grpc_code, str(exc)) from None
        results = await asyncio.gather(*futures, return_exceptions=True)
        for i, result in enumerate(results):
            error = result if isinstance(result, BaseException) else result.error
            if error is not None:
                raise KServeError(status_of(error).grpc_code, f"image {i}: {error}")
        scores = np.stack([r.all_scores for r in results]).astype(np.float32)
        response = kv.ModelInferResponse(model_name=host.name, model_version=host.version, id=request.id)
        wanted = list(request.outputs) or [kv.ModelInferRequest.InferRequestedOutputTensor(name=OUTPUT_NAME)]
        for output in wanted:
            if output.name != OUTPUT_NAME:
                raise KServeError(grpc.StatusCode.INVALID_ARGUMENT, f"unknown output '{output.name}'")
            k = output.parameters["classification"].int64_param if "classification" in output.parameters else 0
            if k > 0:
                excluded = host.pipeline.excluded
                k = min(k, scores.shape[1] - (0 if excluded is None else int(excluded.sum())))  # filtered: never ranked
                ranked = scores if excluded is None else np.where(excluded, -np.inf, scores)
                top = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
                labels = host.pipeline.display_names
                strings = [
                    f"{scores[r, c]:f}:{c}:{labels[c] if c < len(labels) else c}".encode()
                    for r in range(len(top))
                    for c in top[r]
                ]
                response.outputs.add(name=OUTPUT_NAME, datatype="BYTES", shape=[len(top), k])
                response.raw_output_contents.append(encode_bytes_tensor(strings))
            else:
                response.outputs.add(name=OUTPUT_NAME, datatype="FP32", shape=list(scores.shape))
                response.raw_output_contents.append(scores.astype("<f4").tobytes())
        return response


class HpsModel:
    """PaddleX's high-performance serving form (HPS): the HTTP API's request JSON in a BYTES
    `input` [1, 1], its response JSON in a BYTES `output` [1, 1]."""

    platform = "pyml_paddlex_hps"
    counted = False  # PaddleX's API counts its own calls (door "hps")
    name = HPS_MODEL_NAME

    def __init__(self, paddlex) -> None:
        self.paddlex = paddlex  # paddlex_api.PaddlexApi

    def metadata(self, version: str = "") -> kv.ModelMetadataResponse:
        meta = kv.ModelMetadataResponse(name=self.name, versions=["1"], platform=self.platform)
        meta.inputs.add(name=HPS_INPUT, datatype="BYTES", shape=[1, 1])
        meta.outputs.add(name=HPS_OUTPUT, datatype="BYTES", shape=[1, 1])
        return meta

    def config(self, version: str = "") -> kv.ModelConfig:
        config = kv.ModelConfig(name=self.name, platform=self.platform, backend="pyml", max_batch_size=0)
        config.input.add(name=HPS_INPUT, data_type=kv.TYPE_STRING, dims=[1, 1])
        config.output.add(name=HPS_OUTPUT, data_type=kv.TYPE_STRING, dims=[1, 1])
        return config

    async def infer(self, request, timeout: float | None) -> kv.ModelInferResponse:
        """PaddleX's HPS form: the HTTP request JSON in, the HTTP response JSON out. As in
        PaddleX's bundle, a refused request is still a successful call whose JSON says why."""
        if (
            len(request.inputs) != 1
            or request.inputs[0].name != HPS_INPUT
            or request.inputs[0].datatype != "BYTES"
            or list(request.inputs[0].shape) != [1, 1]
        ):
            raise KServeError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"model '{HPS_MODEL_NAME}' takes one BYTES input '{HPS_INPUT}' of shape [1, 1]",
            )
        items = bytes_elements(request)
        if len(items) != 1:
            raise KServeError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input '{HPS_INPUT}' holds {len(items)} elements; it must hold one JSON request",
            )
        _, answer = await self.paddlex.infer(items[0], door="hps")
        response = kv.ModelInferResponse(model_name=HPS_MODEL_NAME, model_version="1", id=request.id)
        response.outputs.add(name=HPS_OUTPUT, datatype="BYTES", shape=[1, 1])
        response.raw_output_contents.append(encode_bytes_tensor([json.dumps(answer).encode()]))
        return response


class KServeService(TritonExtensions, kv_grpc.GRPCInferenceServiceServicer):
    """KServe v2 over the server's models: every hosted classifier, and PaddleX's HPS model
    (unless a hosted model has its name). Each is a model kind with the same small
    interface: name, platform, metadata(), config(), infer(request, timeout)."""

    def __init__(self, state, paddlex, control) -> None:
        self.state = state  # the server's (state.ServerState): models, default, draining, metrics
        self.control = control  # control.ModelControl: loading and unloading (Triton's repository calls)
        self._hps = HpsModel(paddlex)

    def models(self) -> dict:
        """The models a KServe client sees now: every loaded classifier, and the HPS model
        (unless a classifier has its name)."""
        loaded = [name for name, entry in self.state.models.items() if entry.versions]
        found = {name: ClassifierModel(self.state, name) for name in loaded}
        found.setdefault(HPS_MODEL_NAME, self._hps)
        return found

    def _find(self, name: str):
        """The named model ('' : the default one) if a client can call it now, else None;
        looked up alone, as every request does."""
        name = name or self.state.default
        entry = self.state.models.get(name)
        if entry is not None and entry.versions:
            return ClassifierModel(self.state, name)
        return self._hps if name == HPS_MODEL_NAME else None

    def model(self, name: str):
        """The named model ('' : the default one). Raises UnknownModel or NotReady."""
        found = self._find(name)
        if found is None:
            self.state.resolve(name, check_draining=False)  # raises the right error: unknown, or not ready
        return found

    async def ServerLive(self, request, context):  # noqa: N802
        return kv.ServerLiveResponse(live=True)

    async def ServerReady(self, request, context):  # noqa: N802
        return kv.ServerReadyResponse(ready=not self.state.draining)

    async def ModelReady(self, request, context):  # noqa: N802
        if request.name == HPS_MODEL_NAME and request.name in self.models():
            return kv.ModelReadyResponse(ready=not self.state.draining)
        return kv.ModelReadyResponse(ready=self.state.host(request.name, request.version) is not None)

    async def ServerMetadata(self, request, context):  # noqa: N802
        return kv.ServerMetadataResponse(name="pyml", version=__version__, extensions=["classification"])

    async def ModelMetadata(self, request, context):  # noqa: N802
        try:
            return self.model(request.name).metadata(request.version)
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            await abort_with(context, exc)

    async def _counted(self, request, timeout: float | None) -> kv.ModelInferResponse:
        """A model's infer, counted in the server's metrics when the model does not count itself."""
        started = time.perf_counter()
        code = grpc.StatusCode.INTERNAL
        model = self._find(request.model_name)
        try:
            if model is None or self.state.draining:
                self.state.resolve(request.model_name)  # raises: draining, unknown model, not ready
            response = await model.infer(request, timeout)
            code = grpc.StatusCode.OK
            return response
        except KServeError as exc:
            code = exc.code
            raise
        except Exception as exc:
            code = status_of(exc).grpc_code
            raise
        finally:
            if model is None or model.counted:
                # Unknown names share one label: a caller must not be able to mint new series.
                name = request.model_name or self.state.default
                self.state.metrics.request(
                    name if name in self.state.hosts else "<unknown>", "kserve", code.name, started
                )

    async def ModelInfer(self, request, context):  # noqa: N802
        try:
            return await self._counted(request, context.time_remaining())
        except KServeError as exc:
            await context.abort(exc.code, str(exc))
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            await abort_with(context, exc)

    async def ModelStreamInfer(self, request_iterator, context):  # noqa: N802
        """Each request is answered in order; a failed one carries error_message, the stream goes on."""
        async for request in request_iterator:
            if isinstance(request, MalformedRequest):
                yield kv.ModelStreamInferResponse(error_message=request.message)
                continue
            try:
                yield kv.ModelStreamInferResponse(infer_response=await self._counted(request, context.time_remaining()))
            except Exception as exc:  # noqa: BLE001 - this request's answer; the stream goes on
                yield kv.ModelStreamInferResponse(
                    error_message=str(exc), infer_response=kv.ModelInferResponse(id=request.id)
                )
