"""pyml's gRPC service (server, dynamic batcher) and its Python client."""

from .client import Client
from .server import Server, ServerOptions, create_server, run_server

__all__ = ["Client", "Server", "ServerOptions", "create_server", "run_server"]
