"""pyml's server (every door over one dynamic batcher) and its Python client.

The names below are imported on first use, so that `pyml.serving.options` (what the
command line parses) loads without gRPC."""

import importlib

_HOMES = {
    "Client": "client",
    "Server": "server",
    "ServerOptions": "options",
    "create_server": "server",
    "run_server": "server",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'pyml.serving' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)


__all__ = list(_HOMES)
