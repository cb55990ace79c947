"""A server's options, and which of them are `pyml serve` flags (with their help and
defaults). Kept apart from the server so that parsing the command line imports no gRPC."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _flag(default, help: str, type: type | None = None):  # noqa: A002
    """A ServerOptions field that is also a `pyml serve` flag of the same name."""
    return field(default=default, metadata={"help": help, "type": type})


@dataclass
class ServerOptions:
    """How a server runs. Fields with a `help` are `pyml serve`'s flags of the same name
    (cli/serve.py generates them); the rest come from flags of another form."""

    max_batch_size: int = _flag(8, "images in one batch at most", int)
    max_queue_delay_ms: float = _flag(5.0, "how long a batch waits for more requests after its first", float)
    max_queue: int = _flag(256, "requests waiting at most; more are refused (RESOURCE_EXHAUSTED, HTTP 503)", int)
    instances: int = _flag(
        1,
        "model instances per model, each running a batch at a time (1: one predictor using every core, "
        "preprocessing overlapped)",
        int,
    )
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # --max_message_mb
    grace_s: float = _flag(30.0, "on SIGTERM/SIGINT, seconds to finish the queued requests before stopping", float)
    tls_cert: str | None = _flag(None, "PEM certificate; with --tls_key, gRPC speaks TLS and the HTTP port HTTPS")
    tls_key: str | None = _flag(None, "PEM private key for --tls_cert")
    token: str | None = None  # --token_file; set: every call but health checks needs "authorization: Bearer <token>"
    http_port: int | None = _flag(
        None, "also serve PaddleX's HTTP API, the try-it page and /docs on this port (0: any free one)", int
    )
    allow_url_inputs: bool = _flag(
        False, "let HTTP/HPS requests name an image URL for the server to fetch (off: an SSRF risk)", bool
    )
    visualize: bool = True  # --no_visualize; HTTP/HPS answers carry the drawn image unless the request says not
    metrics_port: int | None = _flag(
        None, "serve Prometheus metrics at /metrics on this port (0: any free one); no token is asked there", int
    )


def flag_fields() -> list[dataclasses.Field]:
    """The fields that are `pyml serve` flags, in order."""
    return [f for f in dataclasses.fields(ServerOptions) if "help" in f.metadata]


__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "ServerOptions", "flag_fields"]
