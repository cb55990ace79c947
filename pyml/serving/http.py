"""PaddleX's HTTP serving API as a door of pyml's server: FastAPI under uvicorn, run
in the server's own event loop (no second process), answering through the same
dynamic batcher as gRPC.

    POST /multilabel-image-classification   PaddleX's request and response JSON (paddlex_api.py)
    GET  /health                            {"logId", "errorCode": 0, "errorMsg": "Healthy"}
    GET  /                                  the try-it page (static/, served from the package)
    GET  /models                            the hosted models, their labels and thresholds (for the page)
    GET  /docs, /openapi.json               the API's docs, with Swagger UI's files from the
                                            fastapi-swagger package (no CDN: works offline)

Bodies over the server's message limit are refused with 413 before they are parsed. With a
token (`--token_file`), every route but health, the page's files and the docs answers 401
without it (auth.py says which are open and why).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from importlib import resources

import uvicorn
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ..errors import ConfigError
from .auth import HttpBearerGate, http_path_is_open, send_json
from .errors import DRAINING_MESSAGE, status_of
from .paddlex_api import INFER_PATH, ErrorResponse, InferRequest, InferResponse, PaddlexApi, error_body, new_log_id
from .triton import repository_index

log = logging.getLogger(__name__)


DRAIN_FACTOR = 4  # a body over the limit is read and dropped up to this many limits, then cut


class BodyLimit:
    """ASGI middleware: reads a request body up to `limit` bytes, else answers 413.

    It reads the body itself (declared length or not) and hands the app a replay of
    it, so no handler ever holds more than the limit. A body somewhat over the limit is
    read to its end and dropped, so the client sees the 413 rather than a reset."""

    def __init__(self, app, limit: int, on_refused=None) -> None:
        """on_refused(started): called for each 413, so the refusal is counted like any answer."""
        self.app = app
        self.limit = limit
        self.on_refused = on_refused

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit * DRAIN_FACTOR:
            await self._refuse(send, started)  # far too big to read through: answer now, the client may see a reset
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.limit:
                chunks.append(chunk)
            elif size > self.limit * DRAIN_FACTOR:
                await self._refuse(send, started)
                return
            if not message.get("more_body", False):
                break
        if size > self.limit:
            # Read to the end (and dropped) so that the client, still sending, gets the 413.
            await self._refuse(send, started)
            return
        body = b"".join(chunks)
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send, started: float) -> None:
        if self.on_refused is not None:
            self.on_refused(started)
        body = error_body(new_log_id(), 413, f"request body over {self.limit} bytes")
        await send_json(send, 413, body, (b"connection", b"close"))


# Every answer the infer endpoint can give besides 200, in PaddleX's error envelope.
_ERRORS = {
    401: "the server runs with a token (--token_file) and the request has no `Authorization: Bearer <token>` "
    "header, or a wrong one; the answer carries a `WWW-Authenticate: Bearer` header",
    404: "modelName or modelVersion (pyml's opt-in fields) names no loaded model or version",
    413: "the request body is over the server's message limit",
    422: "the request is not valid: a missing or malformed field, an image that cannot be decoded or a bad "
    "threshold; errorMsg is a JSON list of {type, loc, msg}",
    500: "the model failed (logged on the server)",
    503: "the server is overloaded (its queue is full) or shutting down; try again later",
    504: "the request waited past its deadline",
}


def _documented(*statuses: int) -> dict:
    return {status: {"model": ErrorResponse, "description": _ERRORS[status]} for status in statuses}


@functools.cache
def _static_page(name: str) -> str:
    """A page of static/, read once per process."""
    return resources.files("pyml.serving").joinpath("static", name).read_text(encoding="utf-8")


def _with_bearer_scheme(app: FastAPI) -> None:
    """OpenAPI for a server with a token: a bearer scheme every closed operation requires,
    so Swagger UI's Authorize button sends it."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()
        if "bearerToken" not in schema.setdefault("components", {}).setdefault("securitySchemes", {}):
            schema["components"]["securitySchemes"]["bearerToken"] = {"type": "http", "scheme": "bearer"}
            for path, operations in schema.get("paths", {}).items():
                if not http_path_is_open(path):
                    for operation in operations.values():
                        operation["security"] = [{"bearerToken": []}]
        return schema

    app.openapi = openapi


def create_app(api: PaddlexApi, token_required: bool = False, control=None) -> FastAPI:
    app = FastAPI(title="pyml (PaddleX serving API)", docs_url=None, redoc_url=None)
    if token_required:
        _with_bearer_scheme(app)
    app.mount("/static", StaticFiles(packages=[("pyml.serving", "static")]), name="static")
    app.mount("/swagger", StaticFiles(packages=[("fastapi_swagger", "resources")]), name="swagger")

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_static_page("index.html"))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url="/swagger/swagger-ui-bundle.js",
            swagger_css_url="/swagger/swagger-ui.css",
            swagger_favicon_url="/swagger/favicon-32x32.png",
        )

    @app.get("/models", operation_id="listModels", responses=_documented(401))
    async def models() -> JSONResponse:
        """pyml's: the hosted models (the first answers PaddleX's requests), for the try-it page."""
        return JSONResponse(
            {
                "models": [
                    {
                        "name": host.name,
                        "modelName": host.pipeline.model.model_name,
                        "labels": host.pipeline.display_names,
                        "default": name == api.state.default,
                        "version": host.version,
                        "versions": sorted(api.state.models[name].versions, key=int),
                    }
                    for name, host in api.state.hosts.items()
                ],
                "metricsPort": api.state.metrics_port,
            }
        )

    if control is not None:
        _repository_routes(app, control)

    @app.get("/health", operation_id="checkHealth", responses=_documented(503))
    async def health() -> JSONResponse:
        if api.state.draining:
            return JSONResponse(error_body(new_log_id(), 503, DRAINING_MESSAGE), 503)
        return JSONResponse({"logId": new_log_id(), "errorCode": 0, "errorMsg": "Healthy"})

    # The body is read raw and validated by paddlex_api, so this door and the HPS model on
    # the KServe port give identical answers, validation errors included.
    @app.post(
        INFER_PATH,
        operation_id="infer",
        responses={200: {"model": InferResponse}, **_documented(401, 404, 413, 422, 500, 503, 504)},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": InferRequest.model_json_schema()}},
            }
        },
    )
    async def infer(request: Request) -> JSONResponse:
        status, answer = await api.infer(await request.body(), door="http")
        return JSONResponse(answer, status)

    return app


def _kserve_error(exc: BaseException) -> JSONResponse:
    """KServe v2's HTTP error form, {"error": message}, with the table's status."""
    return JSONResponse({"error": str(exc)}, status_of(exc).http)


def _repository_routes(app: FastAPI, control) -> None:
    """KServe v2's HTTP model repository extension, over the same model control as
    Triton's gRPC calls: the index, and load / unload in explicit mode."""
    repository_errors = {
        404: {"description": "no such model in the repository"},
        403: {"description": "model control is off (the server's --model_control_mode is not explicit)"},
        422: {"description": "the model's folder or policy is not valid"},
        500: {"description": "the model failed to load; what was serving goes on serving"},
    }

    @app.post("/v2/repository/index", operation_id="repositoryIndex")
    async def index(ready: bool = False) -> JSONResponse:
        """Every model the server knows: loaded versions READY, the rest with their state and reason."""
        return JSONResponse(repository_index(control.state, control, ready))

    @app.post("/v2/repository/models/{name}/load", operation_id="repositoryLoad", responses=repository_errors)
    async def load(name: str) -> JSONResponse:
        """Loads (or reloads) a model's versions; it serves once every new version is warm."""
        try:
            control.check_allowed()
            versions = await control.load(name)
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            return _kserve_error(exc)
        return JSONResponse({"name": name, "versions": versions})

    @app.post("/v2/repository/models/{name}/unload", operation_id="repositoryUnload", responses=repository_errors)
    async def unload(name: str) -> JSONResponse:
        """Unloads every version of a model once each has answered what it accepted."""
        try:
            control.check_allowed()
            await control.unload(name)
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            return _kserve_error(exc)
        return JSONResponse({})


class _EmbeddedServer(uvicorn.Server):
    """uvicorn's server without its signal handling: the pyml server owns SIGTERM/SIGINT
    and drains every door itself."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class HttpDoor:
    def __init__(
        self,
        api: PaddlexApi,
        max_body_bytes: int,
        token: str | None = None,
        tls: tuple[str, str] | None = None,
        control=None,
    ) -> None:
        """tls: (certificate, key) PEM paths: the port speaks HTTPS, as gRPC speaks TLS with them."""

        def counter(status: int):
            def refused(started: float) -> None:
                if api.metrics is not None:
                    api.metrics.request(api.state.default, "http", str(status), started)

            return refused

        self.app = BodyLimit(create_app(api, token_required=bool(token), control=control), max_body_bytes, counter(413))
        if token:  # outermost: a caller without the token is refused before its body is read
            self.app = HttpBearerGate(
                self.app, token, lambda status, message: error_body(new_log_id(), status, message), counter(401)
            )
        self._tls = tls
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        """Binds (an OSError if it cannot) and starts serving; returns the bound port."""
        # The socket is bound here rather than by uvicorn, which would exit the process on failure.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Accepted connections inherit it (Linux). Without it a reply's body waits behind
            # its headers for the client's delayed ACK: 40 ms on every reused connection.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.bind((host, port))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        cert, key = self._tls or (None, None)
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=5,
            ssl_certfile=cert,
            ssl_keyfile=key,
        )
        self._server = _EmbeddedServer(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]), name="pyml-http")
        while not self._server.started:
            if self._task.done():
                raise ConfigError(f"cannot serve HTTP on {host}:{self.port}")
            await asyncio.sleep(0.01)
        log.info("PaddleX HTTP API on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


__all__ = ["BodyLimit", "HttpDoor", "create_app"]
