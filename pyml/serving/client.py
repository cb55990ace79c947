"""The Python client of a pyml server. Results are the same MultiLabelResult objects as
the local API (print, save_to_json and save_to_img work). Transport failures become
pyml.errors.ServiceError in one place; a bad image in a stream is that result's `.error`.

    with Client("127.0.0.1:50051") as client:
        for result in client.classify_stream(["a.jpg", "b.jpg"]):
            print(result)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import grpc
import numpy as np

from ..errors import InputError, ServiceError
from ..inputs import ImageSource, iter_sources
from ..results import MultiLabelResult
from ..v1 import classifier_pb2 as pb
from ..v1 import classifier_pb2_grpc as pb_grpc
from .server import DEFAULT_MAX_MESSAGE_BYTES


def _service_error(exc: grpc.RpcError) -> ServiceError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return ServiceError(f"{code.name}: {details}", code=code.name)


def _threshold(value: Any) -> pb.Threshold | None:
    if value is None:
        return None
    if isinstance(value, dict):
        classes = {int(k): float(v) for k, v in value.items() if k != "default"}
        return pb.Threshold(per_class=pb.PerClassThreshold(default_value=float(value["default"]),
                                                           classes=classes))
    return pb.Threshold(value=float(value))


def request_of(source: ImageSource, model: str = "", threshold: Any = None,
               top_k: int | None = None) -> pb.ClassifyRequest:
    request = pb.ClassifyRequest(request_id=source.name, model=model, top_k=top_k or 0)
    if isinstance(source.data, np.ndarray):
        pixels = source.data if source.data.ndim == 3 else source.data[:, :, None]
        request.raw.CopyFrom(pb.RawImage(height=pixels.shape[0], width=pixels.shape[1],
                                         channels=pixels.shape[2], order=pb.CHANNEL_ORDER_BGR,
                                         pixels=np.ascontiguousarray(pixels, np.uint8).tobytes()))
    else:
        request.encoded = source.data or b""
    t = _threshold(threshold)
    if t is not None:
        request.threshold.CopyFrom(t)
    return request


def result_of(response: pb.ClassifyResponse, image: Any = None) -> MultiLabelResult:
    if response.HasField("error"):
        error = InputError(response.error.message, reason=response.error.reason, source=response.request_id)
        return MultiLabelResult(response.request_id, error=error, image=image)
    return MultiLabelResult(response.request_id, [c.id for c in response.categories],
                            [round(c.score, 5) for c in response.categories],
                            [c.name for c in response.categories], image=image)


class Client:
    def __init__(self, target: str, timeout: float | None = 30.0,
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, tls_ca: str | None = None,
                 token: str | None = None, tls_server_name: str | None = None) -> None:
        """tls_ca: PEM file of the CA that signed the server's certificate (turns TLS on);
        token: sent as "authorization: Bearer <token>" on every call."""
        self.timeout = timeout
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
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

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def model_info(self, model: str = "") -> pb.ModelInfo:
        try:
            return self._stub.GetModelInfo(pb.ModelInfoRequest(model=model), timeout=self.timeout,
                                           metadata=self._metadata)
        except grpc.RpcError as exc:
            raise _service_error(exc) from None

    def classify(self, images: Any, model: str = "", threshold: Any = None,
                 top_k: int | None = None) -> list[MultiLabelResult]:
        """One unary call per image. A bad image raises (its status is the call's status)."""
        results = []
        for source in iter_sources(images):
            if source.error is not None:
                raise source.error
            try:
                response = self._stub.Classify(request_of(source, model, threshold, top_k),
                                               timeout=self.timeout, metadata=self._metadata)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    reason = dict(exc.trailing_metadata() or ()).get("pyml-reason") or "rejected"
                    raise InputError(f"{source.name}: {exc.details()}", reason=reason,
                                     source=source.name) from None
                raise _service_error(exc) from None
            results.append(result_of(response, source.data))
        return results

    def classify_stream(self, images: Any, model: str = "", threshold: Any = None,
                        top_k: int | None = None, max_in_flight: int = 64) -> Iterator[MultiLabelResult]:
        """One bidirectional stream; yields results as they arrive (not in input order).
        At most `max_in_flight` images are sent ahead of their answers."""
        slots = threading.Semaphore(max_in_flight)
        kept: dict[str, Any] = {}
        local_errors: queue.SimpleQueue = queue.SimpleQueue()

        def requests() -> Iterable[pb.ClassifyRequest]:
            for source in iter_sources(images):
                if source.error is not None:
                    local_errors.put(MultiLabelResult(source.name, error=source.error))
                    continue
                slots.acquire()
                kept[source.name] = source.data
                yield request_of(source, model, threshold, top_k)

        try:
            for response in self._stub.ClassifyStream(requests(), timeout=self.timeout,
                                                      metadata=self._metadata):
                slots.release()
                while not local_errors.empty():
                    yield local_errors.get()
                yield result_of(response, kept.pop(response.request_id, None))
        except grpc.RpcError as exc:
            raise _service_error(exc) from None
        while not local_errors.empty():
            yield local_errors.get()
