"""The server's errors and the one table from an error to what each door answers: the
gRPC status code (pyml's service and KServe), the HTTP status (PaddleX's API) and the
machine-readable reason. Front ends look an error up here; none keeps its own mapping."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from ..errors import BackendError, ConfigError, InputError, ModelError

DRAINING_MESSAGE = "the server is shutting down"


class Overloaded(Exception):
    """The queue is full: the request is refused at once (RESOURCE_EXHAUSTED, 503)."""


class DeadlineExpired(Exception):
    """The caller's deadline passed while the request waited (DEADLINE_EXCEEDED, 504)."""


class Draining(Exception):
    """The server is shutting down and takes no new work (UNAVAILABLE, 503)."""

    def __init__(self, message: str = DRAINING_MESSAGE) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Status:
    grpc_code: grpc.StatusCode
    http: int
    reason: str


# The first row whose type the error is decides; anything else is an internal error.
TABLE: tuple[tuple[type[BaseException], Status], ...] = (
    (InputError, Status(grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_input")),  # reason: the error's own
    (ConfigError, Status(grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_argument")),
    (Overloaded, Status(grpc.StatusCode.RESOURCE_EXHAUSTED, 503, "overloaded")),
    (DeadlineExpired, Status(grpc.StatusCode.DEADLINE_EXCEEDED, 504, "deadline_exceeded")),
    (Draining, Status(grpc.StatusCode.UNAVAILABLE, 503, "draining")),
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


__all__ = ["DRAINING_MESSAGE", "INTERNAL", "TABLE", "DeadlineExpired", "Draining", "Overloaded", "Status", "status_of"]
