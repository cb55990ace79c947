"""The server under overload, over a long mixed run (soak), and drained by SIGTERM
under load: every request gets a right answer or the status it should, memory
and file descriptors stay bounded. Each test runs a `pyml serve` subprocess.

Short versions run by default; PYML_RELIABILITY_LONG=1 runs the full ones
(60 s of 4x overload, 10,000-request soak). Figures are printed (pytest -s)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from bad_inputs import DEMO_IMAGES, bad_files
from load import (
    GoodAnswer,
    RefusedFor,
    ServerProcess,
    Tally,
    closed_loop,
    closed_loop_streams,
    open_loop,
    open_loop_processes,
)

import pyml
from pyml.v1 import classifier_pb2 as pb

pytestmark = pytest.mark.load
LONG = os.environ.get("PYML_RELIABILITY_LONG") == "1"


def request_mix(bad_every: int = 5):
    """Good demo pictures (with their in-process answers) and, every `bad_every`-th, a bad file."""
    pipeline = pyml.create_pipeline()
    good = []
    for path, result in zip(DEMO_IMAGES, pipeline.predict(DEMO_IMAGES)):
        with open(path, "rb") as f:
            good.append((f.read(), result.class_ids))
    bad = list(bad_files().items())
    mix = []
    for i in range(len(good) * len(bad)):
        if i % bad_every == bad_every - 1:
            name, (data, reasons) = bad[(i // bad_every) % len(bad)]
            mix.append((pb.ClassifyRequest(request_id=f"{i}:{name}", encoded=data), RefusedFor(reasons)))
        else:
            data, ids = good[i % len(good)]
            mix.append((pb.ClassifyRequest(request_id=str(i), encoded=data), GoodAnswer(ids)))
    return mix


def mib(kib: int) -> float:
    return kib / 1024


def overload_run(seconds: float) -> str:
    """Measures capacity, pushes 4x for `seconds`, checks, and reports. Both over streams:
    a streamed message costs a client far less than a unary call, which is what lets
    client processes on this same small machine offer a true 4x (unary calls from three
    processes reached 2.2x here)."""
    server = ServerProcess("--max_queue", "64", "--max_batch_size", "8")
    try:
        mix = request_mix()
        warm = asyncio.run(closed_loop_streams(server.target, mix * 4))
        started = time.perf_counter()
        measured = asyncio.run(closed_loop_streams(server.target, mix * 12))
        capacity = measured.total / (time.perf_counter() - started)
        rss_before = server.status_kib("VmRSS")
        samples = []
        overload = open_loop_processes(
            server.target,
            mix,
            rate=4 * capacity,
            seconds=seconds,
            processes=2,
            streams=4,
            on_tick=lambda: samples.append(server.status_kib("VmRSS")),
        )
        offered = overload.total / seconds
        peak = server.status_kib("VmHWM")
        after = asyncio.run(closed_loop(server.target, mix * 2, callers=8))
        report = (
            f"capacity {capacity:.0f} images/s (closed loop, 16 streams x 4 in flight); overload at "
            f"{4 * capacity:.0f}/s for {seconds:.0f} s: {overload.total} images "
            f"({offered:.0f}/s offered from 2 client processes, {offered / capacity:.1f}x), "
            f"{dict(overload.statuses)}; wrong answers {len(overload.wrong)}; "
            f"server RSS {mib(rss_before):.0f} MiB before, max sampled {mib(max(samples)):.0f} MiB, "
            f"peak (VmHWM) {mib(peak):.0f} MiB; afterwards {dict(after.statuses)}, "
            f"wrong {len(after.wrong)}"
        )
        assert not warm.wrong and not measured.wrong
        assert set(overload.statuses) <= {"OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}, report
        assert offered >= 0.95 * 4 * capacity, report  # the load generator really offered 4x
        assert overload.statuses["RESOURCE_EXHAUSTED"] > 0, report  # it really was overloaded
        assert overload.statuses["OK"] > 0, report  # and kept serving meanwhile
        assert not overload.wrong, (report, overload.wrong[:3])
        assert max(samples) < rss_before + 512 * 1024, report  # bounded by the queue, not by the load
        assert set(after.statuses) <= {"OK", "INVALID_ARGUMENT"} and not after.wrong, report
        return report
    finally:
        server.kill()


def test_overload_4x_capacity():
    print("\noverload:", overload_run(60 if LONG else 8))


def test_soak_memory_fds_and_answers():
    total, baseline = (10_000, 1_000) if LONG else (3_000, 1_000)
    server = ServerProcess()
    try:
        mix = request_mix()
        requests = [mix[i % len(mix)] for i in range(total)]
        first = asyncio.run(closed_loop(server.target, requests[:baseline], callers=8))
        rss_1, fds_1 = server.status_kib("VmRSS"), server.open_fds()
        rest = asyncio.run(closed_loop(server.target, requests[baseline:], callers=8))
        rss_n, fds_n = server.status_kib("VmRSS"), server.open_fds()
        statuses = first.statuses + rest.statuses
        print(
            f"\nsoak: {total} requests {dict(statuses)}; wrong {len(first.wrong) + len(rest.wrong)}; "
            f"RSS after {baseline}: {mib(rss_1):.1f} MiB, after {total}: {mib(rss_n):.1f} MiB "
            f"({(rss_n / rss_1 - 1) * 100:+.1f}%); fds {fds_1} -> {fds_n}"
        )
        assert set(statuses) == {"OK", "INVALID_ARGUMENT"} and statuses.total() == total
        assert not first.wrong and not rest.wrong, (first.wrong + rest.wrong)[:3]
        # The allocator moves RSS by several MiB either way without any leak (seen: 189.7 ->
        # 201.0 MiB over 2,000 requests in one CI run; 497-522 MiB with no trend over
        # 8,000 in another), so the bound is 5% or 16 MiB, whichever is larger: a leak of
        # 10 KiB a request over these 2,000 (a decoded picture is ~900 KiB) still fails it.
        assert rss_n <= max(rss_1 * 1.05, rss_1 + 16 * 1024), (mib(rss_1), mib(rss_n))
        # grpc-core opens eventfds/sockets lazily, so the count moves by one either way between
        # samples; a leak would grow with requests (thousands here), not by one or two.
        assert fds_n <= fds_1 + 2
    finally:
        server.kill()


def test_sigterm_under_load_drains_and_exits_0():
    server = ServerProcess("--grace_s", "20")
    try:
        mix = request_mix()
        capacity_probe = asyncio.run(closed_loop(server.target, mix * 2, callers=8))
        assert not capacity_probe.wrong
        sent_signal = []

        def tick():
            if not sent_signal and time.perf_counter() - start > 2.0:
                server.proc.send_signal(signal.SIGTERM)
                sent_signal.append(time.perf_counter())

        start = time.perf_counter()
        tally: Tally = asyncio.run(open_loop(server.target, mix, rate=150, seconds=4.0, on_tick=tick))
        _, err = server.proc.communicate(timeout=30)
        status = server.proc.returncode
        unavailable = tally.details.get("UNAVAILABLE", {})
        lost = {d: n for d, n in unavailable.items() if "shutting down" not in d and "connect" not in d.lower()}
        print(
            f"\ndrain: {tally.total} requests {dict(tally.statuses)}; refusals {dict(unavailable)}; "
            f"exit {status} {time.perf_counter() - sent_signal[0]:.1f} s after SIGTERM"
        )
        assert status == 0, err
        # A call that reaches the transport in the instant the listener closes (after the
        # 1 s refusal window) is cancelled by grpc-core before pyml's handler sees it: it
        # was never accepted, but its status is CANCELLED, not UNAVAILABLE. Seen: 0-1 per run.
        assert set(tally.statuses) <= {"OK", "INVALID_ARGUMENT", "UNAVAILABLE", "CANCELLED"}, tally.details
        assert tally.statuses["CANCELLED"] <= max(2, tally.total // 100), tally.details
        assert tally.details.get("UNAVAILABLE", {}).get("the server is shutting down", 0) > 0
        assert tally.statuses["UNAVAILABLE"] > 0 and tally.statuses["OK"] > 0
        assert not lost, lost  # an accepted request was dropped, not answered
        assert not tally.wrong, tally.wrong[:3]
    finally:
        server.kill()
