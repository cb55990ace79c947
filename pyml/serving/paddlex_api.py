"""PaddleX's serving form of multi-label classification, apart from any transport:
request JSON in, (HTTP status, response JSON) out. The HTTP door (http.py) and the
HPS model on the KServe port (kserve.py) both answer through `PaddlexApi.infer`, and
both reach the model through its dynamic batcher like every other request.

Request: {"image": base64 (or a URL, if allowed), "threshold"?: number | [per class] |
{"default": t, id: t}, "visualize"?: bool, "logId"?: str}. Answer:
{"logId", "result": {"categories": [{"id", "name", "score"}], "image"?: base64 JPEG},
"errorCode": 0, "errorMsg": "Success"}; an error is {"logId", "errorCode", "errorMsg"}
with errorCode = the HTTP status. Validation errors are 422 whose errorMsg is a JSON
list of {type, loc, msg}, as FastAPI and PaddleX write them; pyml's own refusals
(an undecodable image, a threshold out of range) use the same form.

pyml's opt-in request fields, which PaddleX clients never send and so never see:
`returnAllScores: true` adds `result.allScores` (every class as {"id", "name", "score"},
by id) and `result.thresholds` (the one applied to each class), so a page can re-filter
without asking again; `modelName` picks a hosted model other than the first;
`includeLabels`, `excludeLabels`, `includeCategories`, `excludeCategories` (lists of
names) filter the labels as `pyml --include_labels` does, and `returnCategories: true`
adds each label's `category`.

On purpose unlike PaddleX 3.7.2: a per-class threshold applies per class (PaddleX
applies list entries by batch position); a bad image is 422 with pyml's reason
(PaddleX: 500); a URL image is refused unless the server allows URL inputs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, InputError, Reason
from ..inputs import ImageSource, fetch_url
from ..label_filter import LabelFilter
from ..thresholds import Threshold
from .errors import status_of

if TYPE_CHECKING:
    from ..pipeline import MultiLabelClassificationPipeline
    from ..results import MultiLabelResult

log = logging.getLogger(__name__)

INFER_PATH = "/multilabel-image-classification"
HPS_MODEL_NAME = "multilabel-image-classification"  # PaddleX's Triton (HPS) bundle calls it this
IMAGE_NAME = "image"  # the source name errors repeat: the request field it came from


class InferRequest(BaseModel):
    image: str
    threshold: float | dict[Literal["default"] | int, float] | list[float] | None = None
    visualize: bool | None = None
    logId: str | None = None  # noqa: N815 (PaddleX's field name)
    returnAllScores: bool | None = None  # noqa: N815 (pyml's, opt-in: every class's score)
    modelName: str | None = None  # noqa: N815 (pyml's, opt-in: a hosted model other than the first)
    modelVersion: str | None = None  # noqa: N815 (pyml's, opt-in: a loaded version other than the default)
    # pyml's, opt-in: labels this request wants (label_filter.py) and each label's category
    includeLabels: list[str] | None = None  # noqa: N815
    excludeLabels: list[str] | None = None  # noqa: N815
    includeCategories: list[str] | None = None  # noqa: N815
    excludeCategories: list[str] | None = None  # noqa: N815
    returnCategories: bool | None = None  # noqa: N815

    def label_filter(self) -> LabelFilter:
        return LabelFilter(
            *(tuple(v or ()) for v in (self.includeLabels, self.excludeLabels, self.includeCategories,
                                       self.excludeCategories))
        )  # fmt: skip


class Category(BaseModel):
    id: int
    name: str
    score: float
    category: str | None = None  # with returnCategories (pyml's): "" when the label has none


class InferResult(BaseModel):
    categories: list[Category]
    image: str | None = None  # the drawn result, base64 JPEG, when visualize is on
    allScores: list[Category] | None = None  # noqa: N815 (with returnAllScores)
    thresholds: list[float] | None = None  # with returnAllScores


class InferResponse(BaseModel):
    logId: str  # noqa: N815
    result: InferResult
    errorCode: int  # noqa: N815 (0)
    errorMsg: str  # noqa: N815 ("Success")


class ErrorResponse(BaseModel):
    """PaddleX's error envelope; errorCode repeats the HTTP status."""

    logId: str  # noqa: N815
    errorCode: int  # noqa: N815
    errorMsg: str  # noqa: N815 (for 422, a JSON list of {type, loc, msg})


def new_log_id() -> str:
    return str(uuid.uuid4())


def error_body(log_id: str, status: int, message: str) -> dict[str, Any]:
    return {"logId": log_id, "errorCode": status, "errorMsg": message}


def _refusal(status: int, kind: str, field: str, message: str) -> tuple[int, str]:
    """A pyml refusal in the validation-error form for 422, a plain message otherwise."""
    if status == 422:
        return status, json.dumps([{"type": kind, "loc": ["body", field], "msg": message}])
    return status, message


def refusal_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status (the table in errors.py) and PaddleX's errorMsg for an error met
    while answering: 422s in the validation-error form, naming the field."""
    status = status_of(exc).http
    if isinstance(exc, InputError):
        return _refusal(status, f"pyml.{exc.reason or 'invalid_input'}", IMAGE_NAME, str(exc))
    if isinstance(exc, ConfigError):
        return _refusal(status, "pyml.invalid_threshold", "threshold", str(exc))
    if status == 500:
        return status, "Internal server error"
    return status, str(exc)


def _validation_message(exc: ValidationError) -> str:
    # FastAPI's form: loc starts with "body"; `input`, `ctx` and `url` stay out (they can
    # hold the whole image, or objects that are not JSON).
    errors = [{"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()]
    return json.dumps(errors)


def _jpeg_base64(result) -> str:
    # Pillow's default JPEG quality (75), as PaddleX's serving encodes its drawings.
    buffer = io.BytesIO()
    result.visualize().save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _all_scores(
    pipeline: MultiLabelClassificationPipeline, result: MultiLabelResult, threshold: Threshold
) -> dict[str, Any]:
    """Every class's score, rounded as `scores` are, and the threshold each class met; a
    class the label filters take out is not in allScores, and its threshold is null."""
    names = pipeline.display_names
    per_class = np.broadcast_to(np.asarray(threshold, np.float64), (pipeline.num_classes,))
    return {
        "allScores": [
            {"id": i, "name": names[i], "score": round(float(s), 5)}
            for i, s in enumerate(result.all_scores)
            if np.isfinite(per_class[i])
        ],
        "thresholds": [round(float(t), 6) if np.isfinite(t) else None for t in per_class],
    }


class PaddlexApi:
    """Answers PaddleX-form requests with the server's first model, as PaddleX serves one pipeline."""

    def __init__(self, state, allow_url_inputs: bool = False, visualize: bool = True) -> None:
        self.state = state  # the server's (state.ServerState); PaddleX's form answers with its default model
        self.metrics = state.metrics
        self.allow_url_inputs = allow_url_inputs
        self.visualize = visualize  # when the request does not say (PaddleX's default: on)

    async def _image_bytes(self, image: str) -> bytes:
        if image.startswith(("http://", "https://")):
            if not self.allow_url_inputs:
                raise InputError(
                    f"{IMAGE_NAME}: URL inputs are off on this server (fetching them would "
                    "let any caller make it connect anywhere); send the image as base64, "
                    "or start the server with --allow_url_inputs",
                    reason=Reason.URL_REFUSED,
                    source=IMAGE_NAME,
                )
            source = await asyncio.get_running_loop().run_in_executor(None, fetch_url, image)
            if source.error is not None:
                raise source.error
            return source.data
        try:
            data = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InputError(
                f"{IMAGE_NAME}: not valid base64 ({exc})", reason=Reason.BASE64, source=IMAGE_NAME
            ) from None
        if not data:
            raise InputError(f"{IMAGE_NAME}: empty", reason=Reason.EMPTY, source=IMAGE_NAME)
        return data

    async def infer(self, body: bytes | str, door: str = "http") -> tuple[int, dict[str, Any]]:
        """One request body (JSON text) to (HTTP status, response JSON). Never raises."""
        started = time.perf_counter()
        status, answer, model = await self._answer(body)
        if self.metrics is not None:
            self.metrics.request(model, door, str(status), started)
        return status, answer

    async def _answer(self, body: bytes | str) -> tuple[int, dict[str, Any], str]:
        """(HTTP status, response JSON, the hosted model that answered, for the metrics)."""
        model = self.state.default
        try:
            request = InferRequest.model_validate_json(body)
        except ValidationError as exc:
            return 422, error_body(new_log_id(), 422, _validation_message(exc)), model
        log_id = request.logId or new_log_id()
        try:
            host = self.state.resolve(request.modelName or "", request.modelVersion or "")  # fails early
            model = host.name
            data = await self._image_bytes(request.image)
            # resolved again and queued in one step: a model swapped while the image was
            # read (a URL) is not reached half-closed
            host = self.state.resolve(request.modelName or "", request.modelVersion or "")
            threshold = host.pipeline.resolve_threshold(request.threshold, request.label_filter())
            source = ImageSource(IMAGE_NAME, data)
            result = await host.batcher.submit(source, threshold, host.pipeline.config.top_k, None)
            if result.error is not None:
                raise result.error
            answer: dict[str, Any] = {
                "categories": [
                    {"id": c, "name": n, "score": s}
                    for c, n, s in zip(result.class_ids, result.label_names, result.scores)
                ]
            }
            if request.returnCategories:
                for item, category in zip(answer["categories"], result.categories):
                    item["category"] = category
            if request.returnAllScores:
                answer.update(_all_scores(host.pipeline, result, threshold))
            visualize = self.visualize if request.visualize is None else request.visualize
            if visualize:  # drawing is CPU work: off the event loop
                answer["image"] = await asyncio.get_running_loop().run_in_executor(None, _jpeg_base64, result)
        except Exception as exc:  # noqa: BLE001 - every failure becomes this request's answer
            status, message = refusal_of(exc)
            if status == 500:
                log.exception("request %s failed", log_id)
            return status, error_body(log_id, status, message), model if model in self.state.hosts else "<unknown>"
        return 200, {"logId": log_id, "result": answer, "errorCode": 0, "errorMsg": "Success"}, model


__all__ = [
    "HPS_MODEL_NAME",
    "INFER_PATH",
    "ErrorResponse",
    "InferRequest",
    "InferResponse",
    "PaddlexApi",
    "error_body",
    "new_log_id",
]
