"""Load for the reliability tests: a `pyml serve` subprocess, its memory and file
descriptors read from /proc, and an asyncio gRPC client that sends either closed
loop (N callers back to back) or open loop (a fixed rate, whatever the answers).
The full-length runs: PYML_RELIABILITY_LONG=1 pytest -s tests/reliability/test_load.py
"""

from __future__ import annotations

import asyncio
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
            [sys.executable, "-m", "pyml.cli", "serve", "--pipeline", "image_multilabel_classification",
             "--port", str(self.port), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with grpc.insecure_channel(self.target) as channel:
            grpc.channel_ready_future(channel).result(timeout=120)
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.time() + 60
            while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != \
                    health_pb2.HealthCheckResponse.SERVING:
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


async def open_loop(target: str, requests: list[Request], rate: float, seconds: float,
                    max_outstanding: int = 1000, timeout: float = 30, on_tick=None) -> Tally:
    """Sends at `rate` per second for `seconds`, cycling through `requests`, whatever comes back.
    At most `max_outstanding` calls are in flight: past about 1,000 calls pending on one
    connection, grpc-core cancels the excess (CANCELLED) before pyml's handler sees them."""
    tally = Tally()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = pb_grpc.MultiLabelClassifierStub(channel)
        pending: set[asyncio.Task] = set()
        start = time.perf_counter()
        sent = 0
        while (now := time.perf_counter() - start) < seconds:
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
