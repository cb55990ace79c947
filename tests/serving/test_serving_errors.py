"""The one table from a server error to each door's answer (pyml/serving/errors.py): every
door reads its row, no row hides behind an earlier one, the client maps it back, and the
table in docs/serving.md says what the code does."""

import re
from pathlib import Path

import pytest

from pyml.errors import InputError, PymlError, Reason, ServiceError
from pyml.serving import errors, paddlex_api, wire

ROOT = Path(__file__).resolve().parents[2]


def example(kind: type[BaseException]) -> BaseException:
    return kind() if kind is errors.Draining else kind("x")


@pytest.mark.parametrize("kind, status", errors.TABLE, ids=lambda v: getattr(v, "__name__", ""))
def test_every_door_reads_the_row_of_its_error(kind, status):
    error = example(kind)
    # its own row, not an earlier one of a base class (the table is searched in order)
    assert errors.status_of(error) == status
    item = wire.item_error(error)  # pyml's gRPC service, per item
    assert (item.code, item.reason) == (status.grpc_code.value[0], status.reason)
    assert paddlex_api.refusal_of(error)[0] == status.http  # PaddleX's HTTP API
    back = errors.error_of(status.grpc_code, status.reason, str(error))  # the client's side
    if kind is InputError or status.reason == "too_large":
        assert isinstance(back, InputError)
    else:
        assert isinstance(back, ServiceError) and back.code == status.grpc_code.name


def test_an_input_error_keeps_its_own_reason_and_anything_else_is_internal():
    assert errors.status_of(InputError("x", reason=Reason.CORRUPT)).reason == "corrupt"
    assert errors.status_of(ZeroDivisionError("x")) == errors.INTERNAL
    assert errors.status_of(PymlError("x")) == errors.INTERNAL  # no row for the base class


def test_draining_says_one_thing_everywhere():
    assert str(errors.Draining()) == errors.DRAINING_MESSAGE
    assert paddlex_api.refusal_of(errors.Draining()) == (503, errors.DRAINING_MESSAGE)


def documented_rows() -> dict[str, tuple[set[str], int]]:
    """docs/serving.md's status table: reason -> (gRPC codes named in its row, HTTP status)."""
    text = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")
    table = text.split("| error | gRPC", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        codes = set(re.findall(r"`([A-Z_]+)`", cells[1]))
        for reason in re.findall(r"`([a-z_]+)`", cells[3]):
            rows[reason] = (codes, int(cells[2]))
    return rows


def test_the_documented_table_is_the_codes():
    rows = documented_rows()
    for kind, status in errors.TABLE:
        if kind is InputError:  # documented by its examples (`truncated`, ...)
            continue
        assert status.reason in rows, f"docs/serving.md has no row for {status.reason}"
        codes, http = rows[status.reason]
        assert status.grpc_code.name in codes and http == status.http, (status, rows[status.reason])
