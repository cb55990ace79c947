"""Dynamic batching across callers: requests from every stream and unary call meet in
one bounded queue; a batch closes at max_batch_size items or max_queue_delay_ms after
its first item, and runs on a worker thread (the native core releases the GIL)."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..inputs import ImageSource

log = logging.getLogger(__name__)


class Overloaded(Exception):
    """The queue is full: the request is refused at once (RESOURCE_EXHAUSTED)."""


class DeadlineExpired(Exception):
    """The caller's deadline passed while the request waited (DEADLINE_EXCEEDED)."""


class Draining(Exception):
    """The server is shutting down and takes no new work (UNAVAILABLE)."""


@dataclass
class Job:
    source: ImageSource
    threshold: Any  # already resolved by the pipeline
    top_k: int | None
    deadline: float | None  # loop.time() by which the answer is due; None: no deadline
    future: asyncio.Future
    queued_at: float  # loop.time() when it joined the queue


class DynamicBatcher:
    def __init__(self, pipeline, max_batch_size: int = 8, max_queue_delay_ms: float = 5.0,
                 max_queue: int = 256, metrics=None, name: str = "") -> None:
        self.pipeline = pipeline
        self.name = name
        self.metrics = metrics  # a ServerMetrics, or None
        self.max_batch_size = max_batch_size
        self.max_queue_delay = max_queue_delay_ms / 1000.0
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_queue)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyml-infer")
        self._task: asyncio.Task | None = None
        self._running_batch = False
        self.draining = False
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # size -> batches run
        if metrics is not None:
            metrics.watch_queue(name, self._queue.qsize)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="pyml-batcher")

    def submit(self, source: ImageSource, threshold: Any, top_k: int | None,
               timeout: float | None) -> asyncio.Future:
        """Queues one image; the future gets its MultiLabelResult. Raises Overloaded or Draining."""
        if self.draining:
            raise Draining("the server is shutting down")
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = None if timeout is None else now + timeout
        job = Job(source, threshold, top_k, deadline, loop.create_future(), now)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise Overloaded(f"queue full ({self._queue.maxsize} waiting)") from None
        return job.future

    @property
    def idle(self) -> bool:
        return self._queue.empty() and not self._running_batch

    async def _gather(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        close_at = loop.time() + self.max_queue_delay
        while len(batch) < self.max_batch_size:
            wait = close_at - loop.time()
            if wait <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), wait))
            except asyncio.TimeoutError:
                break
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            self._running_batch = True
            try:
                now = loop.time()
                live = []
                for job in batch:
                    if job.future.done():  # the caller went away (cancelled)
                        continue
                    if job.deadline is not None and job.deadline <= now:
                        job.future.set_exception(DeadlineExpired("deadline passed while queued"))
                        continue
                    live.append(job)
                if not live:
                    continue
                self.batch_sizes[len(live)] += 1
                started = time.perf_counter()
                try:
                    results = await loop.run_in_executor(
                        self._executor, self.pipeline.run_batch, [j.source for j in live],
                        [j.threshold for j in live], [j.top_k for j in live])
                    if self.metrics is not None:
                        self.metrics.batch(self.name, len(live), time.perf_counter() - started,
                                           [now - j.queued_at for j in live])
                except Exception as exc:  # a backend failure fails the batch, not the server
                    log.exception("batch of %d failed", len(live))
                    for job in live:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                for job, result in zip(live, results):
                    if not job.future.done():
                        job.future.set_result(result)
            finally:
                self._running_batch = False

    async def drain(self, poll: float = 0.01) -> None:
        """Refuses new work and returns when everything accepted has been answered."""
        self.draining = True
        while not self.idle:
            await asyncio.sleep(poll)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)


__all__ = ["DynamicBatcher", "Overloaded", "DeadlineExpired", "Draining"]
