"""The server under overload, over a long mixed run (soak), and drained by SIGTERM
under load: every request gets a right answer or the status it should, memory
and file descriptors stay bounded. Each test runs a `pyml serve` subprocess.

Short versions run by default; PYML_RELIABILITY_LONG=1 runs the full ones
(5x the overload rounds, a 10,000-request soak). Figures are printed (pytest -s);
how much the server serves at which offered rate is benchmarks' work, not these tests'."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from itertools import pairwise

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


def overload_run(rounds: int) -> str:
    """Keeps far more images outstanding than the server can hold (8 streams x 16 in flight
    against a queue of 16 and batches of 4), so it is overloaded by construction, whatever
    the machine's speed; checks that it refuses the excess at once, answers the rest right,
    holds its memory, and serves normally afterwards. How much it serves under which
    offered rate is measured by benchmarks, not here."""
    server = ServerProcess("--max_queue", "16", "--max_batch_size", "4", "--instances", "1")
    try:
        mix = request_mix()
        warm = asyncio.run(closed_loop_streams(server.target, mix * 2))
        rss_before = server.status_kib("VmRSS")
        overload = asyncio.run(closed_loop_streams(server.target, mix * rounds, streams=8, in_flight=16))
        rss_after, peak = server.status_kib("VmRSS"), server.status_kib("VmHWM")
        after = asyncio.run(closed_loop(server.target, mix * 2, callers=8))
        report = (
            f"{overload.total} images with 128 outstanding against a queue of 16: {dict(overload.statuses)}; "
            f"wrong answers {len(overload.wrong)}; server RSS {mib(rss_before):.0f} MiB before, "
            f"{mib(rss_after):.0f} MiB after, peak (VmHWM) {mib(peak):.0f} MiB; "
            f"afterwards {dict(after.statuses)}, wrong {len(after.wrong)}"
        )
        assert not warm.wrong
        assert set(overload.statuses) <= {"OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}, report
        assert overload.statuses["RESOURCE_EXHAUSTED"] > 0, report  # it really was overloaded
        assert overload.statuses["OK"] > 0, report  # and kept serving meanwhile
        assert not overload.wrong, (report, overload.wrong[:3])
        # bounded by the queue (16 pictures of at most a few MiB each), not by the load
        assert rss_after < rss_before + 512 * 1024, report
        assert set(after.statuses) <= {"OK", "INVALID_ARGUMENT"} and not after.wrong, report
        return report
    finally:
        server.kill()


def test_overload_is_refused_at_once_and_answers_stay_right():
    print("\noverload:", overload_run(60 if LONG else 12))


def test_soak_memory_fds_and_answers():
    total, baseline, step = (10_000, 1_000, 1_000) if LONG else (3_000, 1_000, 400)
    server = ServerProcess()
    try:
        mix = request_mix()
        requests = [mix[i % len(mix)] for i in range(total)]
        tallies = [asyncio.run(closed_loop(server.target, requests[:baseline], callers=8))]
        samples = [(baseline, server.status_kib("VmRSS"))]
        fds_1 = server.open_fds()
        for start in range(baseline, total, step):
            tallies.append(asyncio.run(closed_loop(server.target, requests[start : start + step], callers=8)))
            samples.append((min(start + step, total), server.status_kib("VmRSS")))
        fds_n = server.open_fds()
        statuses = sum((t.statuses for t in tallies), Counter())
        wrong = [w for t in tallies for w in t.wrong]
        # A leak grows RSS in every interval; the allocator moves it by several MiB either
        # way with no leak (seen: 189.7 -> 201.0 MiB in one CI run, -3% in another), in steps.
        # So: a leak is growth in every interval adding up to more than 8 MiB. Leaking a
        # decoded picture (~900 KiB) for one request in 100 is 3.6 MiB an interval here.
        rss = [y for _, y in samples]
        steps = [b - a for a, b in pairwise(rss)]
        print(
            f"\nsoak: {total} requests {dict(statuses)}; wrong {len(wrong)}; RSS (MiB) "
            f"{', '.join(f'{mib(y):.1f}' for y in rss)} at every {step}; fds {fds_1} -> {fds_n}"
        )
        assert set(statuses) == {"OK", "INVALID_ARGUMENT"} and statuses.total() == total
        assert not wrong, wrong[:3]
        leaking = all(d > 512 for d in steps) and rss[-1] - rss[0] > 8 * 1024
        assert not leaking, [f"{mib(y):.1f}" for y in rss]
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
        tally = Tally()

        def tick():  # SIGTERM once the server has answered 50 under load, however long that takes
            if not sent_signal and tally.statuses["OK"] >= 50:
                server.proc.send_signal(signal.SIGTERM)
                sent_signal.append(time.perf_counter())

        def until() -> bool:  # and keep sending until the server is gone (refused or unreachable)
            return bool(sent_signal) and server.proc.poll() is not None

        asyncio.run(open_loop(server.target, mix, rate=150, seconds=600, on_tick=tick, tally=tally, until=until))
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
