"""A model swapped twice under load (v1 -> v2, then v1 unloaded) with 16 callers on
pyml's gRPC streams, tritonclient KServe calls and PaddleX HTTP calls, against a real
`pyml serve` process: no caller sees a failed request, every answer is one of the two
versions' whole answers (never a half-loaded model's), and every request sent after the
load call returned is answered by v2. The times are benchmarks/bench_swap.py's to
report, not asserted here."""

from __future__ import annotations

import pytest

from benchmarks.bench_swap import run_swap

pytestmark = pytest.mark.load
pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is not installed")


def test_two_swaps_under_load_lose_nothing(tmp_path):
    run = run_swap(tmp_path, seconds=1.5, callers=16)
    failed = [a for a in run.answers if a.error]
    assert failed == [], failed[:5]
    assert {a.door for a in run.answers} == {"grpc", "kserve", "http"}
    assert {a.version for a in run.answers} == {"1", "2"}
    after_load = [a for a in run.answers if a.sent >= run.events["load1_done"]]
    assert after_load and all(a.version == "2" for a in after_load)
    # the callers kept going through both swaps
    assert any(run.events["load1_start"] <= a.sent < run.events["load2_start"] for a in run.answers)
    assert any(a.sent >= run.events["load2_done"] for a in run.answers)
