"""Dynamic batching across callers: requests from every stream and unary call meet in
one bounded queue; a batch closes at max_batch_size items or max_queue_delay_ms after
its first item.

Two stages on worker threads (the native core and the runtimes release the GIL), as
`predict` overlaps them: one thread reads and preprocesses batch k+1 while batch k
runs the model on one of `instances` model instances (each its own predictor). At most
one prepared batch waits for a free instance, so the queue, not memory, takes the rest."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..inputs import ImageSource
from ..thresholds import Threshold
from .errors import DeadlineExpired, Draining, Overloaded
from .heap import trim_when_due

if TYPE_CHECKING:
    from ..pipeline import MultiLabelClassificationPipeline

log = logging.getLogger(__name__)


@dataclass
class Job:
    source: ImageSource
    threshold: Threshold  # already resolved by the pipeline
    top_k: int | None
    deadline: float | None  # loop.time() by which the answer is due; None: no deadline
    future: asyncio.Future
    queued_at: float  # loop.time() when it joined the queue


class DynamicBatcher:
    def __init__(
        self,
        pipeline: MultiLabelClassificationPipeline,
        max_batch_size: int = 8,
        max_queue_delay_ms: float = 5.0,
        max_queue: int = 256,
        metrics=None,
        name: str = "",
        instances: int = 1,
    ) -> None:
        self.pipeline = pipeline
        self.name = name
        self.metrics = metrics  # a ServerMetrics, or None
        self.max_batch_size = max_batch_size
        self.max_queue_delay = max_queue_delay_ms / 1000.0
        self.instances = instances
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_queue)
        self._prepare_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pyml-prepare")
        self._infer_threads = ThreadPoolExecutor(max_workers=instances, thread_name_prefix="pyml-infer")
        self._backends = pipeline.instance_backends(instances)
        self._free: asyncio.Queue | None = None  # backends not running a batch (made in start())
        self._task: asyncio.Task | None = None
        self._inferring: set[asyncio.Task] = set()
        self._batches_in_flight = 0
        self._gathering: list[Job] = []  # the batch the window is open for
        self.draining = False
        self.batch_sizes: collections.Counter[int] = collections.Counter()  # size -> batches run
        if metrics is not None:
            metrics.watch_queue(name, self.pending)

    def start(self) -> None:
        self._free = asyncio.Queue()
        self._freed = asyncio.Event()  # set whenever an instance finishes a batch
        self._drain_started = asyncio.Event()
        for backend in self._backends:
            self._free.put_nowait(backend)
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="pyml-batcher")

    def warm(self, picture: bytes) -> None:
        """Runs one picture through every model instance, before start(): a model answers
        its first request as fast as its hundredth (graph optimisation, kernel creation,
        the threads of each instance happen here). Blocking; call it off the event loop."""
        prepared = self.pipeline.prepare([ImageSource("<warm-up>", picture)])
        threshold = self.pipeline.resolve_threshold(None)
        for backend in self._backends:
            self.pipeline.infer_prepared(prepared, [threshold], [None], backend)

    def submit(
        self, source: ImageSource, threshold: Threshold, top_k: int | None, timeout: float | None
    ) -> asyncio.Future:
        """Queues one image; the future gets its MultiLabelResult. Raises Overloaded or Draining."""
        if self.draining:
            raise Draining()
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = None if timeout is None else now + timeout
        job = Job(source, threshold, top_k, deadline, loop.create_future(), now)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise Overloaded(f"queue full ({self._queue.maxsize} waiting)") from None
        return job.future

    def pending(self) -> int:
        """Requests waiting for a batch to run: queued, or in the batch being gathered."""
        return self._queue.qsize() + len(self._gathering)

    @property
    def idle(self) -> bool:
        return self._queue.empty() and self._batches_in_flight == 0

    async def _take_or_stop(self, getter: asyncio.Future, batch: list[Job]) -> None:
        """Cancels a pending queue get; an item it got meanwhile joins the batch."""
        getter.cancel()
        try:
            await getter
        except asyncio.CancelledError:
            pass
        else:  # it got an item while being cancelled
            batch.append(getter.result())

    async def _gather(self) -> list[Job]:
        loop = asyncio.get_running_loop()
        batch = self._gathering = [await self._queue.get()]
        close_at = loop.time() + self.max_queue_delay
        # The window closes early when draining starts: no new work can join the batch.
        draining = asyncio.ensure_future(self._drain_started.wait())
        try:
            while len(batch) < self.max_batch_size:
                wait = close_at - loop.time()
                if wait <= 0:
                    break
                if not self._queue.empty():  # under load: no waiting, no futures
                    batch.append(self._queue.get_nowait())
                    continue
                if self.draining:
                    break
                getter = asyncio.ensure_future(self._queue.get())
                await asyncio.wait({getter, draining}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    batch.append(getter.result())
                    continue
                await self._take_or_stop(getter, batch)
                break
        finally:
            draining.cancel()
        # The delay has passed. If every instance is still busy, the batch could not run
        # anyway: let it grow until one frees up (a full batch is prepared at once, and
        # overlaps with the running one).
        while len(batch) < self.max_batch_size and self._free.empty():
            self._freed.clear()
            getter = asyncio.ensure_future(self._queue.get())
            freed = asyncio.ensure_future(self._freed.wait())
            await asyncio.wait({getter, freed}, return_when=asyncio.FIRST_COMPLETED)
            freed.cancel()
            if getter.done():
                batch.append(getter.result())
            else:
                await self._take_or_stop(getter, batch)
        self._gathering = []
        return batch

    def _live(self, batch: list[Job], now: float) -> list[Job]:
        """The jobs still wanted: not cancelled by their caller, deadline not passed."""
        live = []
        for job in batch:
            if job.future.done():
                continue
            if job.deadline is not None and job.deadline <= now:
                job.future.set_exception(DeadlineExpired("deadline passed while queued"))
                continue
            live.append(job)
        return live

    @staticmethod
    def _fail(live: list[Job], exc: Exception) -> None:
        for job in live:
            if not job.future.done():
                job.future.set_exception(exc)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            now = loop.time()
            live = self._live(batch, now)
            if not live:
                continue
            self._batches_in_flight += 1
            started = time.perf_counter()
            try:
                prepared = await loop.run_in_executor(
                    self._prepare_thread, self.pipeline.prepare, [j.source for j in live]
                )
            except Exception as exc:  # noqa: BLE001 - fails this batch, not the server
                log.exception("preparing a batch of %d failed", len(live))
                self._fail(live, exc)
                self._batches_in_flight -= 1
                continue
            prepare_s = time.perf_counter() - started
            backend = await self._free.get()  # waits while every instance runs a batch
            task = loop.create_task(self._infer(live, prepared, backend, now, prepare_s))
            self._inferring.add(task)
            task.add_done_callback(self._inferring.discard)

    async def _infer(self, live: list[Job], prepared, backend, gathered_at: float, prepare_s: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.batch_sizes[len(live)] += 1
            started = time.perf_counter()
            results = await loop.run_in_executor(
                self._infer_threads,
                self.pipeline.infer_prepared,
                prepared,
                [j.threshold for j in live],
                [j.top_k for j in live],
                backend,
            )
            if self.metrics is not None:
                self.metrics.batch(
                    self.name,
                    len(live),
                    prepare_s + time.perf_counter() - started,
                    [gathered_at - j.queued_at for j in live],
                )
            for job, result in zip(live, results):
                if not job.future.done():
                    job.future.set_result(result)
        except Exception as exc:  # noqa: BLE001 - a backend failure fails the batch, not the server
            log.exception("batch of %d failed", len(live))
            self._fail(live, exc)
        finally:
            self._free.put_nowait(backend)
            self._freed.set()
            self._batches_in_flight -= 1
            if self.idle:  # nothing waits: a moment to give freed memory back (heap.py)
                with contextlib.suppress(RuntimeError):  # the thread is shut down: closing
                    loop.run_in_executor(self._prepare_thread, trim_when_due)

    async def wait_idle(self, poll: float = 0.005) -> None:
        """Returns when everything accepted has been answered."""
        while not self.idle:
            await asyncio.sleep(poll)

    async def drain(self) -> None:
        """Refuses new work and returns when everything accepted has been answered."""
        self.draining = True
        if self._task is not None:
            self._drain_started.set()
        await self.wait_idle()

    async def close(self) -> None:
        for task in [self._task, *self._inferring]:
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._prepare_thread.shutdown(wait=True)
        self._infer_threads.shutdown(wait=True)


__all__ = ["DeadlineExpired", "Draining", "DynamicBatcher", "Overloaded"]
