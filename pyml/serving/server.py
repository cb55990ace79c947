"""The server: one grpc.aio server carrying pyml's service (classifier.py), KServe v2
(kserve.py), gRPC health checking and server reflection, with the HTTP door (http.py)
and the metrics port beside it, over one state of hosted models (state.py, host.py).

    server = await create_server({"digits": pipeline}, "127.0.0.1:0")  # server.port, server.state

Each hosted model has its own dynamic batcher. Health is NOT_SERVING until the
batchers run and again while draining; SIGTERM/SIGINT (in run_server) drain:
new requests get UNAVAILABLE, every accepted one is answered, then exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from grpc_reflection.v1alpha import reflection

from ..errors import ConfigError, PymlError
from ..v1 import kserve_v2_pb2 as kv
from .auth import BearerTokenInterceptor
from .classifier import SERVICE, SERVICE_NAME, ClassifierService
from .control import ModelControl
from .host import host_builder
from .http import HttpDoor
from .kserve import KServeService
from .lenient import add_service
from .metrics import ServerMetrics
from .options import ServerOptions
from .paddlex_api import PaddlexApi
from .repository import Repository
from .state import ServerState

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

REFUSAL_WINDOW_S = 1.0  # on drain: refuse new calls with UNAVAILABLE this long before closing
KSERVE_SERVICE = kv.DESCRIPTOR.services_by_name["GRPCInferenceService"]
KSERVE_SERVICE_NAME = KSERVE_SERVICE.full_name


def _reflection_pool():
    """pyml's descriptor pool (its messages live there, not in protobuf's default pool:
    see setup.py) plus the health and reflection protos, so reflection describes all four."""
    from grpc_reflection.v1alpha import reflection_pb2

    from ..v1 import POOL

    for module in (health_pb2, reflection_pb2):
        try:
            POOL.FindFileByName(module.DESCRIPTOR.name)
        except KeyError:
            POOL.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    return POOL


def _check_port_free(address: str) -> None:
    """ConfigError naming the gRPC door and its port when another process listens there.
    gRPC would log a C-core error line and fail with a bare RuntimeError; and with its
    SO_REUSEPORT default it could even share the port with another gRPC server."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or int(port) == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host or "0.0.0.0", int(port)))
        except OSError as exc:
            raise ConfigError(
                f"cannot open a door of the server: the gRPC door on {host}:{port}: {exc.strerror or exc}"
            ) from None


@dataclass
class Server:
    """A running server: its gRPC server (pyml's service, KServe), the shared state, health,
    model control, and the HTTP and metrics doors when they are on."""

    grpc_server: grpc.aio.Server
    port: int
    state: ServerState
    health: health_aio.HealthServicer
    control: ModelControl
    http: HttpDoor | None = None
    metrics_port: int | None = None

    async def drain_and_stop(self, grace_s: float) -> None:
        """NOT_SERVING, refuse new work, answer everything accepted, then stop."""
        await self.control.stop()
        self.state.draining = True
        for name in ("", SERVICE_NAME, *self.state.models):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        started = time.monotonic()
        hosts = [host for entry in self.state.models.values() for host in entry.versions.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*(h.batcher.drain() for h in hosts)), grace_s)
        except asyncio.TimeoutError:
            log.warning("grace period of %.0f s ended with requests still queued", grace_s)
        # Keep answering UNAVAILABLE for a moment before the listener closes: clients that
        # have not seen NOT_SERVING yet get a clear refusal rather than a cancelled call.
        await asyncio.sleep(max(0.0, min(REFUSAL_WINDOW_S, grace_s - (time.monotonic() - started))))
        await self.grpc_server.stop(max(0.0, grace_s - (time.monotonic() - started)))
        if self.http is not None:
            await self.http.stop()
        for host in hosts:
            await host.batcher.close()
        self.state.metrics.close()


def _check_control_is_guarded(options: ServerOptions, bind_host: str) -> None:
    """Explicit control loads models from the server's disk on request: refused on an
    address others reach, unless a token guards it or the operator says so."""
    if options.model_control_mode != "explicit" or options.token or options.allow_model_control:
        return
    if bind_host in ("127.0.0.1", "::1", "localhost"):
        return
    raise ConfigError(
        f"--model_control_mode explicit on {bind_host}: anyone who reaches this address could load models "
        "from the server's disk; add --token_file, listen on 127.0.0.1, or pass --allow_model_control"
    )


async def create_server(
    models: dict | None, address: str = "127.0.0.1:0", options: ServerOptions | None = None
) -> Server:
    """Builds, binds and starts a server (every door the options ask for); returns it
    running, every model loaded and warm. `models`: name -> pipeline, served as version
    1 (with or instead of options.model_repository)."""
    options = options or ServerOptions()
    models = models or {}
    if not models and not options.model_repository:
        raise ConfigError("a server needs at least one model (--pipeline, or --model_repository)")
    if options.instances < 1:
        raise ConfigError(f"instances must be >= 1, not {options.instances}")
    bind_host = address.rsplit(":", 1)[0].strip("[]")
    _check_control_is_guarded(options, bind_host)
    repository = Repository(options.model_repository) if options.model_repository else None
    metrics = ServerMetrics()
    state = ServerState({}, metrics, options.max_message_bytes, first=next(iter(models), None))
    health = health_aio.HealthServicer()
    control = ModelControl(
        state, repository, options.model_control_mode, host_builder(options, metrics, state), health, metrics
    )
    control.poll_s = options.repository_poll_s
    for name, pipeline in models.items():  # warmed before any door opens
        state.install(name, "1", await asyncio.to_thread(control.build_host, name, "1", pipeline))
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    service = ClassifierService(state)
    # PaddleX's form (HTTP door and HPS model) answers with the default model, as PaddleX
    # serves one pipeline.
    paddlex = PaddlexApi(state, options.allow_url_inputs, options.visualize)
    limits = [
        ("grpc.max_receive_message_length", options.max_message_bytes),
        ("grpc.max_send_message_length", options.max_message_bytes),
        ("grpc.so_reuseport", 0),
    ]  # a second server on a taken port fails instead of sharing it
    interceptors = [BearerTokenInterceptor(options.token)] if options.token else []
    server = grpc.aio.server(options=limits, interceptors=interceptors)
    # Registered with lenient parsing: a malformed message is INVALID_ARGUMENT, not UNKNOWN.
    add_service(server, SERVICE, service)
    add_service(server, KSERVE_SERVICE, KServeService(state, paddlex, control))
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (
            SERVICE_NAME,
            KSERVE_SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
        pool=_reflection_pool(),
    )
    for name in ("", SERVICE_NAME):
        await health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    _check_port_free(address)
    if options.tls_cert or options.tls_key:
        if not (options.tls_cert and options.tls_key):
            raise ConfigError("TLS needs both a certificate and a key")
        credentials = grpc.ssl_server_credentials(
            [(Path(options.tls_key).read_bytes(), Path(options.tls_cert).read_bytes())]
        )
        port = server.add_secure_port(address, credentials)
    else:
        port = server.add_insecure_port(address)
    if port == 0:
        raise ConfigError(f"cannot bind {address}")
    await server.start()
    for host in state.hosts.values():
        host.batcher.start()
    running = Server(server, port, state, health, control)
    door = "repository"
    try:
        if repository is not None:
            await control.start(options.load_model or [])
        door = "HTTP"
        if options.http_port is not None:
            tls = (options.tls_cert, options.tls_key) if options.tls_cert else None
            running.http = HttpDoor(paddlex, options.max_message_bytes, options.token, tls, control)
            await running.http.start(bind_host, options.http_port)
        door = "metrics"
        if options.metrics_port is not None:
            running.metrics_port = state.metrics_port = metrics.serve(bind_host, options.metrics_port)
    except (PymlError, OSError) as exc:  # a port in use, a model that does not load: leave nothing running
        await control.stop()
        await server.stop(0)
        for entry in state.models.values():
            for host in entry.versions.values():
                await host.batcher.close()
        metrics.close()
        if door == "repository":
            raise
        port_asked = options.http_port if door == "HTTP" else options.metrics_port
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot open a door of the server: the {door} door on {bind_host}:{port_asked}: {reason}"
        ) from exc
    for name in ("", SERVICE_NAME):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving %s on %s (port %d)", ", ".join(state.hosts), address, port)
    return running


def ready_doors(server: Server, address: str, options: ServerOptions) -> list[str]:
    """Where each door listens, as a client would address it, for the ready line."""
    host = address.rsplit(":", 1)[0].strip("[]")
    shown = f"[{host}]" if ":" in host else host
    web = "https" if options.tls_cert else "http"
    doors = [f"gRPC{' (TLS)' if options.tls_cert else ''} on {shown}:{server.port}"]
    if server.http is not None:
        doors.append(f"HTTP on {web}://{shown}:{server.http.port}/")
    if server.metrics_port is not None:
        doors.append(f"metrics on http://{shown}:{server.metrics_port}/metrics")
    if host in ("0.0.0.0", "::", ""):
        doors.append("on every network interface")
    elif host in ("127.0.0.1", "::1", "localhost"):
        doors.append("from this machine only (--host 0.0.0.0 for others)")
    return doors


async def run_server(models: dict, address: str, options: ServerOptions) -> int:
    """Serves until SIGTERM or SIGINT, then drains. Returns the exit status (0)."""
    server = await create_server(models, address, options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"pyml: serving {', '.join(server.state.hosts)}: {', '.join(ready_doors(server, address, options))}", flush=True
    )
    await stop.wait()
    waiting = sum(host.batcher.pending() for host in server.state.hosts.values())
    print(
        f"pyml: draining: no new requests; finishing {waiting} queued, for up to {options.grace_s:g} s",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    await server.drain_and_stop(options.grace_s)
    print(f"pyml: stopped after {time.perf_counter() - started:.1f} s of draining", file=sys.stderr, flush=True)
    return 0
