"""The one state a server's front ends share: which models and versions are loaded (and
warm), which is the default, whether the server is draining, and its metrics. pyml's
gRPC service, KServe, PaddleX's HTTP API and the HPS model all resolve a request's model
here (`resolve`), which raises the typed errors of errors.py; none keeps its own copy.

What is on disk (the model repository, repository.py) is apart from this: a model is
here only once it is loaded and warm, and leaves before it is unloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Draining, NotReady, UnknownModel, UnknownVersion


@dataclass
class ModelVersions:
    """One model's loaded versions ("1", "2", ...) and which answers by default."""

    versions: dict[str, object] = field(default_factory=dict)  # version -> server.ModelHost
    default_version: str | None = None  # None: the highest loaded

    def default(self):
        if not self.versions:
            return None
        if self.default_version in self.versions:
            return self.versions[self.default_version]
        return self.versions[max(self.versions, key=int)]


@dataclass
class ServerState:
    models: dict[str, ModelVersions]  # name -> its versions, in the order given (the first is the default model)
    metrics: object  # metrics.ServerMetrics
    max_message_bytes: int
    draining: bool = False
    metrics_port: int | None = None  # where Prometheus' /metrics is served, if it is
    first: str | None = None  # the default model's name; None: the first loaded

    @property
    def hosts(self) -> dict:
        """Each loaded model's default version's host, by model name."""
        return {name: entry.default() for name, entry in self.models.items() if entry.versions}

    @property
    def default(self) -> str:
        """The model that answers requests naming none."""
        hosts = self.hosts
        if self.first in hosts:
            return self.first
        return next(iter(hosts), self.first or "")

    def host(self, name: str, version: str = ""):
        """The named model's host ('' : the default model, its default version), or None."""
        try:
            return self.resolve(name, version, check_draining=False)
        except (UnknownModel, UnknownVersion, NotReady):
            return None

    def resolve(self, name: str, version: str = "", check_draining: bool = True):
        """The host that answers a request for `name` (''  : the default model) and
        `version` ('' : its default). Raises Draining, UnknownModel, UnknownVersion or NotReady."""
        if check_draining and self.draining:
            raise Draining()
        name = name or self.default
        entry = self.models.get(name)
        if entry is None:
            loaded = ", ".join(self.hosts) or "none"
            raise UnknownModel(f"no model '{name}' on this server (loaded: {loaded})")
        if not entry.versions:
            raise NotReady(f"model '{name}' is not loaded (load it, or wait while it loads)")
        if not version:
            return entry.default()
        found = entry.versions.get(str(version))
        if found is None:
            loaded = ", ".join(sorted(entry.versions, key=int))
            raise UnknownVersion(f"model '{name}' has no version '{version}' loaded (loaded: {loaded})")
        return found

    def entry(self, name: str) -> ModelVersions:
        """The model's entry, made when the model is first met (the first is the default model)."""
        if self.first is None:
            self.first = name
        return self.models.setdefault(name, ModelVersions())

    def install(self, name: str, version: str, host):
        """Puts a warm host in service, atomically; returns the host it replaced (or None)."""
        versions = self.entry(name).versions
        old = versions.get(version)
        versions[version] = host
        return old

    def withdraw(self, name: str, versions: list[str] | None = None) -> list:
        """Takes versions (default: every one) out of service; returns their hosts. The
        model's name stays known (NotReady) until it is forgotten."""
        entry = self.models.get(name)
        if entry is None:
            return []
        gone = [entry.versions.pop(v) for v in list(entry.versions) if versions is None or v in versions]
        return gone


__all__ = ["ModelVersions", "ServerState"]
