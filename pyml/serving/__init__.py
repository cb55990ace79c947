"""pyml's gRPC service (server, dynamic batcher) and its Python client."""

from .client import Client
from .server import ServerOptions, create_server, drain_and_stop, run_server

__all__ = ["Client", "ServerOptions", "create_server", "drain_and_stop", "run_server"]
