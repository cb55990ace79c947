"""Load for the reliability tests: a `pyml serve` subprocess, its memory and file
descriptors read from /proc, and an asyncio gRPC client that sends either closed
loop (N callers back to back) or open loop (a fixed rate, whatever the answers),
the latter also from several processes at once (one asyncio process tops out
below 4x the server's capacity).
The full-length runs: PYML_RELIABILITY_LONG=1 pytest -s tests/reliability/test_load.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pyml.v1 import classifier_pb2 as pb
from pyml.v1 import classifier_pb2_grpc as pb_grpc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`pyml serve` on a free loopback port, SERVING before __init__ returns."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pyml.cli", "serve", "--pipeline", "pyml_demo", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with grpc.insecure_channel(self.target) as channel:
            grpc.channel_ready_future(channel).result(timeout=120)
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.time() + 60
            while (
                health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
                != health_pb2.HealthCheckResponse.SERVING
            ):
                if time.time() > deadline:
                    raise TimeoutError("the server did not become SERVING in 60 s")
                time.sleep(0.1)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def status_kib(self, key: str) -> int:
        """VmRSS (now) or VmHWM (peak) of the server, in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise KeyError(key)

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def terminate(self, timeout: float = 60) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@dataclass
class Tally:
    """What came back: status name -> count, and the answers that were wrong."""

    statuses: Counter = field(default_factory=Counter)
    wrong: list = field(default_factory=list)
    details: dict = field(default_factory=dict)  # status name -> Counter of error details

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


Request = tuple[pb.ClassifyRequest, object]  # the request and a check(response) -> bool


class GoodAnswer:
    """Checks a good picture's answer: these class ids, in this order."""

    def __init__(self, expected_ids: list[int]) -> None:
        self.expected_ids = list(expected_ids)

    def __call__(self, answer) -> bool:
        return isinstance(answer, pb.ClassifyResponse) and [c.id for c in answer.categories] == self.expected_ids


class RefusedFor:
    """Checks a bad file's refusal: INVALID_ARGUMENT with one of these pyml-reason values."""

    def __init__(self, reasons) -> None:
        self.reasons = set(reasons)

    def __call__(self, answer) -> bool:
        if isinstance(answer, pb.ClassifyResponse):  # in a stream: the item's own error
            return answer.HasField("error") and answer.error.reason in self.reasons
        if not isinstance(answer, grpc.aio.AioRpcError):
            return False
        return dict(answer.trailing_metadata() or ()).get("pyml-reason") in self.reasons


async def _one(stub, request: pb.ClassifyRequest, check, tally: Tally, timeout: float) -> None:
    try:
        response = await stub.Classify(request, timeout=timeout)
        tally.statuses["OK"] += 1
        if not check(response):
            tally.wrong.append((request.request_id, response))
    except grpc.aio.AioRpcError as exc:
        tally.statuses[exc.code().name] += 1
        tally.details.setdefault(exc.code().name, Counter())[exc.details()] += 1
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT and not check(exc):
            tally.wrong.append((request.request_id, exc.details()))


async def closed_loop(target: str, requests: list[Request], callers: int, timeout: float = 60) -> Tally:
    """Sends every request once, `callers` at a time back to back."""
    tally = Tally()
    queue = list(reversed(requests))
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.MultiLabelClassifierStub(channel)

        async def caller():
            while queue:
                request, check = queue.pop()
                await _one(stub, request, check, tally, timeout)

        await asyncio.gather(*(caller() for _ in range(callers)))
    return tally


async def open_loop(
    target: str,
    requests: list[Request],
    rate: float,
    seconds: float,
    max_outstanding: int = 1000,
    timeout: float = 30,
    on_tick=None,
    tally: Tally | None = None,
    until=None,
) -> Tally:
    """Sends at `rate` per second for `seconds` (or until `until()` is true), cycling through
    `requests`, whatever comes back, counting into `tally` (which on_tick may read).
    At most `max_outstanding` calls are in flight: past about 1,000 calls pending on one
    connection, grpc-core cancels the excess (CANCELLED) before pyml's handler sees them."""
    tally = Tally() if tally is None else tally
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        pending: set[asyncio.Task] = set()
        start = time.perf_counter()
        sent = 0
        while (now := time.perf_counter() - start) < seconds and not (until and until()):
            due = int(now * rate) - sent
            for _ in range(max(0, min(due, max_outstanding - len(pending)))):
                request, check = requests[sent % len(requests)]
                task = asyncio.ensure_future(_one(stub, request, check, tally, timeout))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            if on_tick is not None:
                on_tick()
            await asyncio.sleep(0.005)
        if pending:
            await asyncio.wait(set(pending))
    return tally


_STATUS_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def _tally_item(tally: Tally, by_id: dict, response) -> None:
    status = _STATUS_NAMES.get(response.error.code, "UNKNOWN") if response.HasField("error") else "OK"
    tally.statuses[status] += 1
    if status in ("OK", "INVALID_ARGUMENT"):
        _, check = by_id[response.request_id]
        if not check(response):
            tally.wrong.append((response.request_id, response))
    else:
        tally.details.setdefault(status, Counter())[response.error.message] += 1


async def closed_loop_streams(target: str, requests: list[Request], streams: int = 16, in_flight: int = 4) -> Tally:
    """Sends every request once over `streams` ClassifyStream calls, each keeping
    `in_flight` messages outstanding: the server's capacity for streamed images."""
    tally = Tally()
    by_id = {request.request_id: (request, check) for request, check in requests}
    shards = [requests[i::streams] for i in range(streams)]

    async def one_stream(call, shard) -> None:
        slots = asyncio.Semaphore(in_flight)

        async def read() -> None:
            async for response in call:
                _tally_item(tally, by_id, response)
                slots.release()

        reader = asyncio.ensure_future(read())
        for request, _ in shard:
            await slots.acquire()
            await call.write(request)
        await call.done_writing()
        await reader

    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        await asyncio.gather(*(one_stream(stub.ClassifyStream(timeout=600), shard) for shard in shards if shard))
    return tally


async def open_loop_streams(
    target: str, requests: list[Request], rate: float, seconds: float, streams: int = 4
) -> Tally:
    """Writes requests into `streams` ClassifyStream calls at `rate` in all, for `seconds`,
    whatever comes back, and checks every answer (an item's status is its error code).
    A message on a stream costs the client far less than a unary call, so this is how
    one client process offers several times a server's capacity."""
    tally = Tally()
    by_id = {request.request_id: (request, check) for request, check in requests}

    async def one_stream(call, share: float) -> None:
        async def read() -> None:
            async for response in call:
                _tally_item(tally, by_id, response)

        reader = asyncio.ensure_future(read())
        start, sent = time.perf_counter(), 0
        while (now := time.perf_counter() - start) < seconds:
            for _ in range(int(now * share) - sent):
                await call.write(requests[sent % len(requests)][0])
                sent += 1
            await asyncio.sleep(0.002)
        await call.done_writing()
        await reader

    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        await asyncio.gather(
            *(one_stream(stub.ClassifyStream(timeout=seconds + 60), rate / streams) for _ in range(streams))
        )
    return tally


def _open_loop_process(
    target: str,
    requests: list[Request],
    rate: float,
    seconds: float,
    max_outstanding: int,
    timeout: float,
    streams: int,
) -> Tally:
    if streams:
        tally = asyncio.run(open_loop_streams(target, requests, rate, seconds, streams))
    else:
        tally = asyncio.run(open_loop(target, requests, rate, seconds, max_outstanding, timeout))
    tally.wrong = [(request_id, str(answer)) for request_id, answer in tally.wrong]  # picklable
    return tally


def open_loop_processes(
    target: str,
    requests: list[Request],
    rate: float,
    seconds: float,
    processes: int = 3,
    max_outstanding: int = 1000,
    timeout: float = 30,
    on_tick=None,
    streams: int = 0,
) -> Tally:
    """open_loop (unary calls) or, with `streams`, open_loop_streams from `processes` client
    processes, each at rate / processes; one Tally."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pending = pool.starmap_async(
            _open_loop_process,
            [(target, requests, rate / processes, seconds, max_outstanding // processes, timeout, streams)] * processes,
        )
        while not pending.ready():
            if on_tick is not None:
                on_tick()
            pending.wait(0.05)
        tallies = pending.get()
    merged = Tally()
    for tally in tallies:
        merged.statuses.update(tally.statuses)
        merged.wrong.extend(tally.wrong)
        for status, details in tally.details.items():
            merged.details.setdefault(status, Counter()).update(details)
    return merged
