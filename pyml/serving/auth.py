"""Bearer-token authentication (`pyml serve --token_file`) for every door: the gRPC services
(an interceptor) and the HTTP port (an ASGI gate). The token is compared in constant time.

What stays open, on purpose: health checks (probes carry no secret), and on the HTTP port
the try-it page's own files and the API's description (`/`, `/static/`, `/docs`,
`/swagger/`, `/openapi.json`): they hold no model, label or picture, and the page and
Swagger UI need to load before they can ask the user for the token. Everything else on the
HTTP port, routes added later included, needs the token: the gate lists what is open,
not what is closed.
"""

from __future__ import annotations

import hmac
import json
import time

import grpc

# HTTP paths served without a token: exact paths, and prefixes ending in "/".
HTTP_OPEN_PATHS = ("/health", "/", "/docs", "/openapi.json", "/favicon.ico")
HTTP_OPEN_PREFIXES = ("/static/", "/swagger/")


def token_matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header value carries this bearer token (constant time)."""
    return hmac.compare_digest((header or "").encode(), f"Bearer {token}".encode())


def http_path_is_open(path: str) -> bool:
    return path in HTTP_OPEN_PATHS or path.startswith(HTTP_OPEN_PREFIXES)


async def send_json(send, status: int, body: dict, *headers: tuple[bytes, bytes]) -> None:
    """An ASGI middleware's own answer: `body` as JSON, with `headers` besides its type and length."""
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without the right bearer token (UNAUTHENTICATED); health stays open for probes."""

    def __init__(self, token: str) -> None:
        self._token = token

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_stream_rpc_method_handler(deny)

    async def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith("/grpc.health.v1.Health/"):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        if token_matches(metadata.get("authorization"), self._token):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is not None and handler.request_streaming:
            return self._deny_stream
        return self._deny_unary


class HttpBearerGate:
    """ASGI middleware: a request to any path but the open ones needs `Authorization: Bearer
    <token>`, else 401 in PaddleX's error envelope with a `WWW-Authenticate: Bearer` header
    (RFC 6750: `error="invalid_token"` when a token was sent and is wrong). It runs before
    the body is read, so an unauthenticated caller cannot make the server read a large body."""

    def __init__(self, app, token: str, error_body, on_refused=None) -> None:
        """error_body(status, message) -> the JSON envelope; on_refused(started) counts a 401."""
        self.app = app
        self._token = token
        self._error_body = error_body
        self._on_refused = on_refused

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or http_path_is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        sent = headers.get(b"authorization")
        if sent is not None and token_matches(sent.decode("latin-1"), self._token):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if self._on_refused is not None:
            self._on_refused(started)
        if sent is None:
            message, challenge = "this server needs a bearer token (Authorization: Bearer <token>)", b"Bearer"
        else:
            message, challenge = "wrong bearer token", b'Bearer error="invalid_token"'
        await send_json(send, 401, self._error_body(401, message), (b"www-authenticate", challenge))


__all__ = ["BearerTokenInterceptor", "HttpBearerGate", "http_path_is_open", "send_json", "token_matches"]
