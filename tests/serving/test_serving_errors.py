"""The one table from a server error to each door's answer (pyml/serving/errors.py)."""

import grpc
import pytest

from pyml.errors import BackendError, ConfigError, InputError, ModelError, Reason
from pyml.serving import errors, paddlex_api, wire


@pytest.mark.parametrize(
    "error, code, http, reason",
    [
        (InputError("x", reason="truncated"), grpc.StatusCode.INVALID_ARGUMENT, 422, "truncated"),
        (InputError("x"), grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_input"),
        (ConfigError("x"), grpc.StatusCode.INVALID_ARGUMENT, 422, "invalid_argument"),
        (errors.Overloaded("full"), grpc.StatusCode.RESOURCE_EXHAUSTED, 503, "overloaded"),
        (errors.DeadlineExpired("late"), grpc.StatusCode.DEADLINE_EXCEEDED, 504, "deadline_exceeded"),
        (errors.Draining(), grpc.StatusCode.UNAVAILABLE, 503, "draining"),
        (ModelError("x"), grpc.StatusCode.FAILED_PRECONDITION, 500, "model"),
        (BackendError("x"), grpc.StatusCode.INTERNAL, 500, "backend"),
        (ZeroDivisionError("x"), grpc.StatusCode.INTERNAL, 500, "internal"),
    ],
)
def test_every_door_reads_the_same_row(error, code, http, reason):
    assert errors.status_of(error) == errors.Status(code, http, reason)
    assert wire.status_of(error) == (code, reason)  # pyml's gRPC service and KServe
    assert paddlex_api.status_of(error)[0] == http  # PaddleX's HTTP API


def test_draining_says_one_thing_everywhere():
    assert str(errors.Draining()) == errors.DRAINING_MESSAGE
    assert paddlex_api.status_of(errors.Draining()) == (503, errors.DRAINING_MESSAGE)
    assert errors.status_of(InputError("x", reason=Reason.CORRUPT)).reason == "corrupt"
