"""Bearer-token authentication of the gRPC doors (`pyml serve --token_file`). The token is
compared in constant time; health checks stay open so that probes need no secret."""

from __future__ import annotations

import hmac

import grpc


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without the right bearer token (UNAUTHENTICATED); health stays open for probes."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}"

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_stream_rpc_method_handler(deny)

    async def intercept_service(self, continuation, handler_call_details):
        if handler_call_details.method.startswith("/grpc.health.v1.Health/"):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        if hmac.compare_digest(metadata.get("authorization", ""), self._expected):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is not None and handler.request_streaming:
            return self._deny_stream
        return self._deny_unary


__all__ = ["BearerTokenInterceptor"]
