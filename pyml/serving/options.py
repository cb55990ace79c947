"""A server's options, and which of them are `pyml serve` flags (with their help and
defaults). Kept apart from the server so that parsing the command line imports no gRPC."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..flags import flag

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass
class ServerOptions:
    """How a server runs. Fields with a `help` are `pyml serve`'s flags of the same name
    (cli/serve.py generates them with pyml/flags.py); the rest come from flags of another form."""

    max_batch_size: int = flag(8, "images in one batch at most", int)
    max_queue_delay_ms: float = flag(5.0, "how long a batch waits for more requests after its first", float)
    max_queue: int = flag(256, "requests waiting at most; more are refused (RESOURCE_EXHAUSTED, HTTP 503)", int)
    instances: int = flag(
        1,
        "model instances per model, each running a batch at a time (1: one predictor using every core, "
        "preprocessing overlapped)",
        int,
    )
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # --max_message_mb
    grace_s: float = flag(30.0, "on SIGTERM/SIGINT, seconds to finish the queued requests before stopping", float)
    tls_cert: str | None = flag(None, "PEM certificate; with --tls_key, gRPC speaks TLS and the HTTP port HTTPS")
    tls_key: str | None = flag(None, "PEM private key for --tls_cert")
    token: str | None = None  # --token_file; set: every call but health checks needs "authorization: Bearer <token>"
    http_port: int | None = flag(
        None, "also serve PaddleX's HTTP API, the try-it page and /docs on this port (0: any free one)", int
    )
    allow_url_inputs: bool = flag(
        False, "let HTTP/HPS requests name an image URL for the server to fetch (off: an SSRF risk)", bool
    )
    pipeline_overrides: dict[str, Any] = field(default_factory=dict)  # create_pipeline options of repository models
    visualize: bool = True  # --no_visualize; HTTP/HPS answers carry the drawn image unless the request says not
    model_repository: str | None = flag(
        None,
        "serve the models of this folder: <model>/<version>/ holding a PaddleX model directory or a pipeline "
        "YAML (Triton's layout); with or instead of --pipeline",
        str,
        metavar="DIR",
    )
    model_control_mode: str = flag(
        "none",
        "none: load the repository once; explicit: load and unload on request (tritonclient's load_model, "
        "POST /v2/repository/models/NAME/load, pyml models load); poll: follow the repository on disk",
        str,
        choices=("none", "explicit", "poll"),
    )
    load_model: list[str] | None = flag(  # noqa: RUF009 (None, not a shared list)
        None, "in explicit mode, a model to load at start (repeat; * for all)", str, action="append", metavar="NAME"
    )
    repository_poll_s: float = flag(5.0, "in poll mode, seconds between reads of the repository", float)
    allow_model_control: bool = flag(
        False,
        "allow explicit mode on a non-loopback --host without --token_file (anyone who reaches the server "
        "could then load models from its disk)",
        bool,
    )
    metrics_port: int | None = flag(
        None, "serve Prometheus metrics at /metrics on this port (0: any free one); no token is asked there", int
    )


__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "ServerOptions"]
