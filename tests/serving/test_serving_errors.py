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
        (errors.UnknownModel("x"), grpc.StatusCode.NOT_FOUND, 404, "unknown_model"),
        (errors.UnknownVersion("x"), grpc.StatusCode.NOT_FOUND, 404, "unknown_version"),
        (errors.NotReady("x"), grpc.StatusCode.UNAVAILABLE, 503, "not_ready"),
        (errors.TooLarge("x"), grpc.StatusCode.RESOURCE_EXHAUSTED, 413, "too_large"),
        (errors.Unauthenticated("x"), grpc.StatusCode.UNAUTHENTICATED, 401, "unauthenticated"),
        (errors.ControlRefused("x"), grpc.StatusCode.FAILED_PRECONDITION, 403, "control_refused"),
        (ZeroDivisionError("x"), grpc.StatusCode.INTERNAL, 500, "internal"),
    ],
)
def test_every_door_reads_the_same_row(error, code, http, reason):
    assert errors.status_of(error) == errors.Status(code, http, reason)
    item = wire.item_error(error)  # pyml's gRPC service, per item
    assert (item.code, item.reason) == (code.value[0], reason)
    assert paddlex_api.refusal_of(error)[0] == http  # PaddleX's HTTP API


def test_draining_says_one_thing_everywhere():
    assert str(errors.Draining()) == errors.DRAINING_MESSAGE
    assert paddlex_api.refusal_of(errors.Draining()) == (503, errors.DRAINING_MESSAGE)
    assert errors.status_of(InputError("x", reason=Reason.CORRUPT)).reason == "corrupt"
