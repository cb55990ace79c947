"""Models in and out of a running server: load, warm, switch, retire, unload.

A load reads the model's served versions from the repository (repository.py), builds
each new or changed version's pipeline and model instances off the event loop, runs a
warm-up picture through every instance, and only then puts it in the server's state
(state.py) in one step: requests resolve their model there, synchronously with queueing
them, so none reaches a half-loaded model. A version it replaces, or one no longer on
disk, leaves the state first and is closed once it has answered everything it accepted.
A version that fails to load leaves what was serving as it was; the call says why.

Modes, as Triton names them: `none` (the repository is loaded once, at start; calls to
load or unload are refused), `explicit` (only what the operator asks: at start
`--load_model NAME` or `*`, then load/unload calls), `poll` (the repository is re-read
every `repository_poll_s`; new, changed and removed versions are applied).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from dataclasses import dataclass

from grpc_health.v1 import health_pb2

from ..errors import PymlError
from .errors import ControlRefused, UnknownModel
from .repository import Repository, VersionOnDisk

log = logging.getLogger(__name__)

MODES = ("none", "explicit", "poll")


@dataclass
class ModelStatus:
    """What the repository index says of a model: READY, LOADING or UNAVAILABLE, and why."""

    state: str
    reason: str = ""


class ModelControl:
    def __init__(self, state, repository: Repository | None, mode: str, build_host, health=None, metrics=None) -> None:
        """build_host(name, version, source) -> a warm server.ModelHost, called on a worker
        thread; health: the gRPC health servicer (a model's name is SERVING while loaded)."""
        self.state = state
        self.repository = repository
        self.mode = mode
        self.build_host = build_host
        self._health = health
        self._metrics = metrics
        self._locks: dict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)
        self._failed: dict[str, tuple] = {}  # model -> fingerprints of a failed load (poll retries on change)
        self.status: dict[str, ModelStatus] = {}
        self._poller: asyncio.Task | None = None

    # -- the operator's calls ------------------------------------------------

    def check_allowed(self) -> None:
        """Refuses load/unload calls where the mode does not take them."""
        if self.repository is None:
            raise ControlRefused(
                "this server has no model repository: start it with --model_repository DIR "
                "--model_control_mode explicit to load and unload models at run time"
            )
        if self.mode != "explicit":
            raise ControlRefused(
                f"loading and unloading on request is off: the server runs with --model_control_mode {self.mode}"
                + (" (it follows the repository on disk)" if self.mode == "poll" else " (the repository is read once)")
                + "; start it with --model_control_mode explicit"
            )

    async def load(self, name: str) -> list[str]:
        """Loads (or reloads) a model's served versions; returns the versions now serving."""
        async with self._locks[name]:
            wanted, default = self.repository.served(name)  # UnknownModel for a bad name
            return await self._apply(name, wanted, default)

    async def unload(self, name: str) -> None:
        async with self._locks[name]:
            if name not in self.state.models or not self.state.models[name].versions:
                if self.repository is not None:
                    self.repository.folder(name)  # an unknown or unsafe name is NOT_FOUND, as for load
                raise UnknownModel(f"model '{name}' is not loaded")
            await self._retire(name, self.state.withdraw(name))
            self.status[name] = ModelStatus("UNAVAILABLE", "unloaded")
            if self._metrics is not None:
                self._metrics.unloaded(name)

    # -- start, poll ---------------------------------------------------------

    async def start(self, initial: list[str]) -> None:
        """Loads the models the mode starts with (`initial`: explicit mode's --load_model
        names, '*' for all); a model that fails to load at start stops the server."""
        names = self.repository.models()
        if self.mode == "explicit":
            names = names if "*" in initial else initial
        for name in names:
            await self.load(name)
        if self.mode == "poll":
            self._poller = asyncio.get_running_loop().create_task(self._poll_forever(), name="pyml-repository-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def poll_once(self) -> None:
        """Applies what changed on disk: new and changed versions load, removed ones (and
        removed models) unload. A failed load is logged and retried when its files change."""
        on_disk = set(self.repository.models())
        for name in sorted(on_disk):
            try:
                wanted, default = self.repository.served(name)
            except PymlError as exc:
                self._note_failure(name, (), exc)
                continue
            prints = ({v: d.fingerprint for v, d in wanted.items()}, default)
            entry = self.state.models.get(name)
            loaded = ({v: h.fingerprint for v, h in entry.versions.items()}, entry.default_version) if entry else None
            if prints == loaded or self._failed.get(name) == prints:
                continue
            try:
                async with self._locks[name]:
                    await self._apply(name, wanted, default)
            except PymlError as exc:
                self._note_failure(name, prints, exc)
        for name in [n for n, entry in self.state.models.items() if entry.versions and n not in on_disk]:
            await self.unload(name)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.poll_once()
            except Exception:  # noqa: BLE001 - a bad repository state must not stop polling
                log.exception("reading the model repository failed")

    poll_s = 5.0

    def _note_failure(self, name: str, prints: tuple, exc: BaseException) -> None:
        if self._failed.get(name) != prints:
            log.warning("model %s: not loaded: %s", name, exc)
        self._failed[name] = prints

    # -- the work ------------------------------------------------------------

    async def _apply(self, name: str, wanted: dict[str, VersionOnDisk], default: str | None) -> list[str]:
        """Loads and warms what is new or changed, then switches, then retires the rest."""
        entry = self.state.entry(name)
        fresh = {
            v: d for v, d in wanted.items() if getattr(entry.versions.get(v), "fingerprint", None) != d.fingerprint
        }
        if fresh and not entry.versions:
            self.status[name] = ModelStatus("LOADING")
        started = time.perf_counter()
        built = {}
        try:
            for version, disk in sorted(fresh.items(), key=lambda item: int(item[0])):
                host = await asyncio.to_thread(self.build_host, name, version, disk.source)
                host.fingerprint = disk.fingerprint
                host.batcher.start()
                built[version] = host
        except BaseException as exc:
            await self._retire(name, list(built.values()))
            if self._metrics is not None:
                self._metrics.loaded(name, "failed", time.perf_counter() - started)
            self.status[name] = ModelStatus("READY") if entry.versions else ModelStatus("UNAVAILABLE", f"failed: {exc}")
            raise
        replaced = [self.state.install(name, v, host) for v, host in built.items()]
        entry.default_version = default
        stale = [v for v in entry.versions if v not in wanted]
        replaced += self.state.withdraw(name, stale)
        self._failed.pop(name, None)
        self.status[name] = ModelStatus("READY")
        if self._health is not None:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if fresh and self._metrics is not None:
            self._metrics.loaded(name, "ok", time.perf_counter() - started)
        if fresh or stale:
            log.info("model %s: serving versions %s (new: %s)", name, sorted(entry.versions, key=int), sorted(fresh))
        await self._retire(name, [h for h in replaced if h is not None])
        return sorted(entry.versions, key=int)

    async def _retire(self, name: str, hosts: list) -> None:
        """Closes hosts that no request can reach any more, once they have answered all
        they accepted."""
        for host in hosts:
            await host.batcher.wait_idle()
            await host.batcher.close()
        entry = self.state.models.get(name)
        if self._health is not None and hosts and not (entry and entry.versions):
            await self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)


__all__ = ["MODES", "ModelControl", "ModelStatus"]
