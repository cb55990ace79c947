"""A real pyml gRPC server on 127.0.0.1 (free port), run on its own event loop thread."""

from __future__ import annotations

import asyncio
import threading

from pyml.serving import ServerOptions, create_server, drain_and_stop


class RunningServer:
    def __init__(self, models: dict, **options) -> None:
        self.options = ServerOptions(**options)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(models,), daemon=True)
        self._thread.start()
        self._ready.wait(120)
        if self._error is not None:
            raise self._error

    def _run(self, models) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main(models))
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _main(self, models) -> None:
        try:
            self.server, self.port, self.service, self.health = await create_server(
                models, "127.0.0.1:0", self.options)
        except BaseException as exc:  # surfaced in __init__
            self._error = exc
            self._ready.set()
            return
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await drain_and_stop(self.server, self.service, self.health, self.options.grace_s)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def batch_sizes(self, model: str):
        return dict(self.service.hosts[model].batcher.batch_sizes)

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
