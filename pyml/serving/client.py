"""The Python client of a pyml server. Results are the same MultiLabelResult objects as
the local API (print, save_to_json and save_to_img work). Transport failures become
pyml.errors.ServiceError in one place; a bad image in a stream is that result's `.error`.

    with Client("127.0.0.1:50051") as client:
        for result in client.classify_stream(["a.jpg", "b.jpg"]):
            print(result)
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
import numpy as np

from ..errors import ConfigError, InputError, Reason, ServiceError, named
from ..inputs import ImageSource, iter_sources
from ..label_filter import KINDS, LabelFilter
from ..results import MultiLabelResult
from ..thresholds import resolve_threshold
from ..v1 import classifier_pb2 as pb
from ..v1 import classifier_pb2_grpc as pb_grpc
from ..v1 import kserve_v2_pb2 as kv
from ..v1 import kserve_v2_pb2_grpc as kv_grpc
from .classifier import MAX_MESSAGE_METADATA
from .errors import REASON_TRAILER, error_of
from .options import DEFAULT_MAX_MESSAGE_BYTES


def _service_error(exc: grpc.RpcError) -> ServiceError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return ServiceError(f"{code.name}: {details}", code=code.name)


def _threshold(value: Any) -> pb.Threshold | None:
    if value is None:
        return None
    if isinstance(value, dict):
        classes = {int(k): float(v) for k, v in value.items() if k != "default"}
        return pb.Threshold(per_class=pb.PerClassThreshold(default_value=float(value["default"]), classes=classes))
    return pb.Threshold(value=float(value))


# A refusal without pyml's reason trailer (gRPC's own message-size check, another server):
# what it most likely says of the image.
_ENVELOPE_BYTES = 1024  # gRPC framing and metadata beside the serialised request
_DEFAULT_REASON = {grpc.StatusCode.INVALID_ARGUMENT: "invalid_input", grpc.StatusCode.RESOURCE_EXHAUSTED: "too_large"}


def _is_bytes(item: Any) -> bool:
    return isinstance(item, (bytes, bytearray, memoryview))


def client_sources(images: Any) -> Iterator[ImageSource]:
    """What the client sends: every input kind of the local API, and encoded image bytes
    (alone, in a list or from a generator) as they are, since the service takes encoded files."""
    if _is_bytes(images):
        yield ImageSource("<bytes 0>", bytes(images))
        return
    if isinstance(images, Iterator):  # a generator: look at its first item, keep it
        first = next(images, None)
        if first is None:
            return
        images, holds_bytes = itertools.chain([first], images), _is_bytes(first)
    else:
        holds_bytes = isinstance(images, (list, tuple)) and any(_is_bytes(i) for i in images)
    if not holds_bytes:
        yield from iter_sources(images)
        return
    for k, item in enumerate(images):
        if _is_bytes(item):
            yield ImageSource(f"<bytes {k}>", bytes(item))
        else:
            yield from iter_sources(item)  # a path, folder, URL or array beside the bytes


def check_options(threshold: Any, top_k: Any) -> None:
    """ConfigError for a threshold or top_k the server would refuse, before anything is sent."""
    if threshold is not None:
        if isinstance(threshold, dict):
            resolve_threshold(
                threshold, 1 + max((int(k) for k in threshold if str(k).isdigit()), default=0), "threshold"
            )
        else:
            resolve_threshold(threshold, 1, "threshold")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k <= 0):
        raise ConfigError(f"top_k must be a positive integer, not {top_k!r}")


def request_of(
    source: ImageSource,
    model: str = "",
    threshold: Any = None,
    top_k: int | None = None,
    version: str = "",
    labels: LabelFilter | None = None,
) -> pb.ClassifyRequest:
    request = pb.ClassifyRequest(request_id=source.name, model=model, top_k=top_k or 0, version=str(version or ""))
    for kind in KINDS if labels else ():
        getattr(request, kind).extend(getattr(labels, kind))
    if isinstance(source.data, np.ndarray):
        pixels = source.data if source.data.ndim == 3 else source.data[:, :, None]
        request.raw.CopyFrom(
            pb.RawImage(
                height=pixels.shape[0],
                width=pixels.shape[1],
                channels=pixels.shape[2],
                order=pb.CHANNEL_ORDER_BGR,
                pixels=np.ascontiguousarray(pixels, np.uint8).tobytes(),
            )
        )
    else:
        request.encoded = source.data or b""
    t = _threshold(threshold)
    if t is not None:
        request.threshold.CopyFrom(t)
    return request


def _code(number: int) -> grpc.StatusCode:
    return next((c for c in grpc.StatusCode if c.value[0] == number), grpc.StatusCode.UNKNOWN)


def result_of(response: pb.ClassifyResponse, image: Any = None) -> MultiLabelResult:
    if response.HasField("error"):
        e = response.error
        error = error_of(_code(e.code), e.reason, e.message, source=response.request_id)
        return MultiLabelResult(response.request_id, error=error, image=image)
    return MultiLabelResult(
        response.request_id,
        [c.id for c in response.categories],
        [round(c.score, 5) for c in response.categories],
        [c.name for c in response.categories],
        image=image,
        categories=[c.category for c in response.categories],
    )


def _label_filter(labels: dict[str, Any]) -> LabelFilter:
    unknown = sorted(set(labels) - set(KINDS))
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(unknown)}; label filters are {', '.join(KINDS)}")
    return LabelFilter.of(labels)


class Client:
    def __init__(
        self,
        target: str,
        timeout: float | None = 30.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        tls_ca: str | None = None,
        token: str | None = None,
        tls_server_name: str | None = None,
    ) -> None:
        """tls_ca: PEM file of the CA that signed the server's certificate (turns TLS on);
        token: sent as "authorization: Bearer <token>" on every call."""
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self._limit_checked = False
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if tls_server_name:
            options.append(("grpc.ssl_target_name_override", tls_server_name))
        if tls_ca:
            with open(tls_ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None
        self._stub = pb_grpc.MultiLabelClassifierStub(self._channel)
        self._repository = kv_grpc.GRPCInferenceServiceStub(self._channel)  # Triton's repository calls

    # -- the model repository (a server started with --model_repository) ----------

    def _control(self, call, request, timeout: float | None):
        try:
            return call(request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            reason = dict(exc.trailing_metadata() or ()).get(REASON_TRAILER)
            raise ServiceError(f"{exc.code().name}: {exc.details()}", code=exc.code().name, reason=reason) from None

    def repository_index(self) -> list[dict]:
        """Every model the server knows: {name, version, state, reason}."""
        response = self._control(self._repository.RepositoryIndex, kv.RepositoryIndexRequest(), self.timeout)
        return [{"name": m.name, "version": m.version, "state": m.state, "reason": m.reason} for m in response.models]

    def load_model(self, name: str, timeout: float | None = 600.0) -> None:
        """Loads (or reloads) a model of the server's repository; returns once it serves, warm."""
        self._control(self._repository.RepositoryModelLoad, kv.RepositoryModelLoadRequest(model_name=name), timeout)

    def unload_model(self, name: str, timeout: float | None = 600.0) -> None:
        self._control(self._repository.RepositoryModelUnload, kv.RepositoryModelUnloadRequest(model_name=name), timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def model_info(self, model: str = "", version: str = "") -> pb.ModelInfo:
        try:
            return self._stub.GetModelInfo(
                pb.ModelInfoRequest(model=model, version=str(version or "")),
                timeout=self.timeout,
                metadata=self._metadata,
            )
        except grpc.RpcError as exc:
            raise _service_error(exc) from None

    def _learn_server_limit(self, model: str) -> None:
        """Lowers max_message_bytes to the server's, which a pyml server states on
        GetModelInfo; another server, or no answer, leaves it as it is."""
        if self._limit_checked:
            return
        self._limit_checked = True
        try:
            _, call = self._stub.GetModelInfo.with_call(
                pb.ModelInfoRequest(model=model), timeout=self.timeout, metadata=self._metadata
            )
        except grpc.RpcError:
            return  # the call that follows reports what is wrong
        stated = dict(call.initial_metadata() or ()).get(MAX_MESSAGE_METADATA, "")
        if stated.isdigit():
            self.max_message_bytes = min(self.max_message_bytes, int(stated))

    def _request(
        self,
        source: ImageSource,
        model: str,
        threshold: Any,
        top_k: int | None,
        version: str = "",
        labels: LabelFilter | None = None,
    ) -> pb.ClassifyRequest:
        """The request for one image; InputError (too_large) when it cannot be sent."""
        self._learn_server_limit(model)
        if source.error is not None:
            raise source.error
        request = request_of(source, model, threshold, top_k, version, labels)
        size = request.ByteSize() + _ENVELOPE_BYTES
        if size > self.max_message_bytes:
            raise InputError(
                f"{source.name}: the request would be {size} bytes, over the "
                f"{self.max_message_bytes}-byte message limit (the server's --max_message_mb, "
                "the client's max_message_bytes)",
                reason=Reason.TOO_LARGE,
                source=source.name,
            )
        return request

    def classify(
        self,
        images: Any,
        model: str = "",
        threshold: Any = None,
        top_k: int | None = None,
        on_error: str = "raise",
        version: str = "",
        **labels: Any,
    ) -> list[MultiLabelResult]:
        """One unary call per image (a path, URL, array, encoded bytes, or a list of them).
        A bad image raises InputError (on_error="raise") or becomes that image's result
        with `.error` set, and the others still go (on_error="return"). A refusal that is
        not about the image (overload, draining, an unknown model or version, the
        connection) raises ServiceError. `version`: '' is the model's default. `labels`:
        include_labels, exclude_labels, include_categories, exclude_categories (label_filter.py)."""
        check_options(threshold, top_k)
        wanted = _label_filter(labels)
        results = []
        for source in client_sources(images):
            try:
                request = self._request(source, model, threshold, top_k, version, wanted)
                response = self._stub.Classify(request, timeout=self.timeout, metadata=self._metadata)
            except InputError as exc:
                if on_error == "raise":
                    raise
                results.append(MultiLabelResult(source.name, error=exc))
                continue
            except grpc.RpcError as exc:
                code = exc.code()
                reason = dict(exc.trailing_metadata() or ()).get(REASON_TRAILER) or _DEFAULT_REASON.get(code, "")
                error = error_of(code, reason, named(source.name, exc.details() or ""), source.name)
                if not isinstance(error, InputError):
                    raise ServiceError(f"{code.name}: {exc.details()}", code=code.name, reason=error.reason) from None
                if on_error == "raise":
                    raise error from None
                results.append(MultiLabelResult(source.name, error=error))
                continue
            results.append(result_of(response, source.data))
        return results

    def classify_stream(
        self,
        images: Any,
        model: str = "",
        threshold: Any = None,
        top_k: int | None = None,
        max_in_flight: int = 64,
        version: str = "",
        **labels: Any,
    ) -> Iterator[MultiLabelResult]:
        """One bidirectional stream; yields results as they arrive (not in input order).
        At most `max_in_flight` images are sent ahead of their answers. An image that
        cannot be read or sent (too large for the message limit) is yielded as a result
        with `.error` set and never sent; the stream goes on."""
        check_options(threshold, top_k)
        wanted = _label_filter(labels)
        slots = threading.Semaphore(max_in_flight)
        kept: dict[str, Any] = {}
        local_errors: queue.SimpleQueue = queue.SimpleQueue()

        def requests() -> Iterable[pb.ClassifyRequest]:
            for source in client_sources(images):
                try:
                    request = self._request(source, model, threshold, top_k, version, wanted)
                except InputError as exc:
                    local_errors.put(MultiLabelResult(source.name, error=exc))
                    continue
                slots.acquire()
                kept[source.name] = source.data
                yield request

        try:
            for response in self._stub.ClassifyStream(requests(), timeout=self.timeout, metadata=self._metadata):
                slots.release()
                while not local_errors.empty():
                    yield local_errors.get()
                yield result_of(response, kept.pop(response.request_id, None))
        except grpc.RpcError as exc:
            raise _service_error(exc) from None
        while not local_errors.empty():
            yield local_errors.get()
