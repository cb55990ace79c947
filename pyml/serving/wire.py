"""Between the wire and the pipeline: requests to image sources, results and
errors to responses (status codes come from the table in errors.py)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError, Reason
from ..inputs import ImageSource
from ..label_filter import KINDS, LabelFilter
from ..results import MultiLabelResult
from ..v1 import classifier_pb2 as pb
from .errors import status_of


def item_error(exc: BaseException) -> pb.ItemError:
    status = status_of(exc)
    return pb.ItemError(code=status.grpc_code.value[0], reason=status.reason, message=str(exc))


def source_of(request: pb.ClassifyRequest, fallback_name: str) -> ImageSource:
    """The image of a request. Raises InputError for a missing or malformed image."""
    name = request.request_id or fallback_name
    kind = request.WhichOneof("image")
    if kind == "encoded":
        return ImageSource(name, bytes(request.encoded))
    if kind == "raw":
        raw = request.raw
        if raw.channels not in (1, 3) or raw.height == 0 or raw.width == 0:
            raise InputError(
                f"{name}: raw image must be HxWx3 or HxWx1 with non-zero sides, got "
                f"{raw.height}x{raw.width}x{raw.channels}",
                reason=Reason.INVALID_ARRAY,
                source=name,
            )
        expected = raw.height * raw.width * raw.channels
        if len(raw.pixels) != expected:
            raise InputError(
                f"{name}: raw image has {len(raw.pixels)} bytes; {raw.height}x{raw.width}x"
                f"{raw.channels} needs {expected}",
                reason=Reason.INVALID_ARRAY,
                source=name,
            )
        pixels = np.frombuffer(raw.pixels, np.uint8).reshape(raw.height, raw.width, raw.channels)
        if raw.channels == 1:
            pixels = pixels[:, :, 0]
        elif raw.order == pb.CHANNEL_ORDER_RGB:
            pixels = pixels[:, :, ::-1]
        return ImageSource(name, np.ascontiguousarray(pixels))
    raise InputError(f"{name}: the request carries no image (set `encoded` or `raw`)", reason=Reason.EMPTY, source=name)


def threshold_of(request: pb.ClassifyRequest):
    """The request's threshold in pyml's Python form; None when unset."""
    if not request.HasField("threshold"):
        return None
    if request.threshold.WhichOneof("kind") == "value":
        return request.threshold.value
    per_class = request.threshold.per_class
    return {"default": per_class.default_value, **{int(k): v for k, v in per_class.classes.items()}}


def label_filter_of(request: pb.ClassifyRequest) -> LabelFilter:
    """The request's include and exclude lists (empty: the server's alone)."""
    return LabelFilter(*(tuple(getattr(request, kind)) for kind in KINDS))


def response_of(request_id: str, model: str, result: MultiLabelResult) -> pb.ClassifyResponse:
    response = pb.ClassifyResponse(request_id=request_id, model=model)
    if result.error is not None:
        response.error.CopyFrom(item_error(result.error))
        return response
    categories = result.categories or [""] * len(result.class_ids)
    for cid, name, score, category in zip(result.class_ids, result.label_names, result.scores, categories):
        response.categories.add(id=cid, name=name, score=score, category=category)
    return response


def error_response(request_id: str, model: str, exc: BaseException) -> pb.ClassifyResponse:
    response = pb.ClassifyResponse(request_id=request_id, model=model)
    response.error.CopyFrom(item_error(exc))
    return response
