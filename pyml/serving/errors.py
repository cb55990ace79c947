"""The server's errors and the one table from an error to what each door answers: the
gRPC status code (pyml's service and KServe), the HTTP status (PaddleX's API and the
KServe HTTP routes) and the machine-readable reason; and back again, from a code and a
reason to the error a client raises. Front ends and the client look an error up here;
none keeps its own mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from ..errors import BackendError, ConfigError, InputError, ModelError, PymlError, Reason, ServiceError

DRAINING_MESSAGE = "the server is shutting down"
REASON_TRAILER = "pyml-reason"  # trailing metadata of a failed gRPC call: pyml's reason, e.g. "truncated"


class Overloaded(Exception):
    """The queue is full: the request is refused at once (RESOURCE_EXHAUSTED, 503)."""


class DeadlineExpired(Exception):
    """The caller's deadline passed while the request waited (DEADLINE_EXCEEDED, 504)."""


class Draining(Exception):
    """The server is shutting down and takes no new work (UNAVAILABLE, 503)."""

    def __init__(self, message: str = DRAINING_MESSAGE) -> None:
        super().__init__(message)


class UnknownModel(PymlError):
    """No model of that name is on the server (NOT_FOUND, 404)."""


class UnknownVersion(PymlError):
    """The model is on the server, but not that version (NOT_FOUND, 404)."""


class NotReady(PymlError):
    """The model is known but no version of it is loaded and warm yet (UNAVAILABLE, 503)."""


class TooLarge(PymlError):
    """A request over the server's message limit (RESOURCE_EXHAUSTED, 413)."""


class Unauthenticated(PymlError):
    """No bearer token, or a wrong one (UNAUTHENTICATED, 401)."""


class ControlRefused(PymlError):
    """Loading or unloading models is not allowed on this server, or not this way
    (FAILED_PRECONDITION, 403)."""


@dataclass(frozen=True)
class Status:
    grpc_code: grpc.StatusCode
    http: int
    reason: str


# The first row whose type the error is decides; anything else is an internal error.
TABLE: tuple[tuple[type[BaseException], Status], ...] = (
    (InputError, Status(grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_input")),  # reason: the error's own
    (UnknownModel, Status(grpc.StatusCode.NOT_FOUND, 404, "unknown_model")),
    (UnknownVersion, Status(grpc.StatusCode.NOT_FOUND, 404, "unknown_version")),
    (ControlRefused, Status(grpc.StatusCode.FAILED_PRECONDITION, 403, "control_refused")),
    (ConfigError, Status(grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_argument")),
    (Overloaded, Status(grpc.StatusCode.RESOURCE_EXHAUSTED, 503, "overloaded")),
    (TooLarge, Status(grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "too_large")),
    (DeadlineExpired, Status(grpc.StatusCode.DEADLINE_EXCEEDED, 504, "deadline_exceeded")),
    (Draining, Status(grpc.StatusCode.UNAVAILABLE, 503, "draining")),
    (NotReady, Status(grpc.StatusCode.UNAVAILABLE, 503, "not_ready")),
    (Unauthenticated, Status(grpc.StatusCode.UNAUTHENTICATED, 401, "unauthenticated")),
    (ModelError, Status(grpc.StatusCode.FAILED_PRECONDITION, 500, "model")),
    (BackendError, Status(grpc.StatusCode.INTERNAL, 500, "backend")),
)
INTERNAL = Status(grpc.StatusCode.INTERNAL, 500, "internal")


def status_of(exc: BaseException) -> Status:
    for kind, status in TABLE:
        if isinstance(exc, kind):
            if isinstance(exc, InputError) and exc.reason:
                return Status(status.grpc_code, status.http, str(exc.reason))
            return status
    return INTERNAL


# The reasons that are about the image a request carried (errors.Reason), not about the server.
_INPUT_REASONS = {r.value for r in Reason} | {"invalid_input"}


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException) -> NoReturn:
    """Ends a gRPC call with the table's status for `exc`, pyml's reason in the trailer."""
    status = status_of(exc)
    context.set_trailing_metadata(((REASON_TRAILER, status.reason),))
    message = str(exc) if status is not INTERNAL else "internal error (logged on the server)"
    await context.abort(status.grpc_code, message)
    raise AssertionError("context.abort returned")  # it raises; this says so to the type checker


def error_of(code: grpc.StatusCode, reason: str, message: str, source: str | None = None) -> PymlError:
    """The client's side of the table: what a server's refusal of one image means. A
    refusal of the image itself (INVALID_ARGUMENT with an input reason, or an image too
    large) is an InputError about that image; anything else (overload, draining, an
    unknown model or version, a deadline) is a ServiceError with the gRPC code's name."""
    if reason in _INPUT_REASONS:
        return InputError(message, reason=reason, source=source)
    return ServiceError(message, code=code.name, reason=reason or None)


__all__ = [
    "DRAINING_MESSAGE",
    "INTERNAL",
    "REASON_TRAILER",
    "TABLE",
    "ControlRefused",
    "DeadlineExpired",
    "Draining",
    "NotReady",
    "Overloaded",
    "Status",
    "TooLarge",
    "Unauthenticated",
    "UnknownModel",
    "UnknownVersion",
    "abort_with",
    "error_of",
    "status_of",
]
