"""The one state a server's front ends share: the hosted models, which is the default,
whether the server is draining, and its metrics. pyml's gRPC service, KServe, PaddleX's
HTTP API and the HPS model all read it; none keeps its own copy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ServerState:
    hosts: dict  # model name -> server.ModelHost, in the order given (the first is the default)
    metrics: object  # metrics.ServerMetrics
    max_message_bytes: int
    draining: bool = False
    metrics_port: int | None = None  # where Prometheus' /metrics is served, if it is

    @property
    def default(self) -> str:
        return next(iter(self.hosts))

    def host(self, name: str):
        """The named model's host ('' : the default), or None."""
        return self.hosts.get(name or self.default)


__all__ = ["ServerState"]
