"""Registering a gRPC service so that a request which does not parse reaches pyml's
handler as a `MalformedRequest` instead of failing inside grpc's deserializer
(which answers UNKNOWN and logs a traceback). Unary calls get INVALID_ARGUMENT with
the `pyml-reason: malformed` trailer; streaming handlers see the item and fail
that item only."""

from __future__ import annotations

import functools

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError

from .errors import REASON_TRAILER


class MalformedRequest:
    """A request that did not parse as its message type."""

    def __init__(self, message: str) -> None:
        self.message = message


def _parser(message_type):
    def parse(data: bytes):
        try:
            return message_type.FromString(data)
        except DecodeError as exc:
            return MalformedRequest(f"the request is not a valid {message_type.DESCRIPTOR.full_name}: {exc}")

    return parse


def _refusing_malformed(method):
    @functools.wraps(method)
    async def handler(request, context):
        if isinstance(request, MalformedRequest):
            context.set_trailing_metadata(((REASON_TRAILER, "malformed"),))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        return await method(request, context)

    return handler


def add_service(server, service_descriptor, servicer) -> None:
    """Registers every method of `service_descriptor` on `server`, served by the
    servicer's method of the same name, with lenient request parsing."""
    handlers = {}
    for method in service_descriptor.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        implementation = getattr(servicer, method.name)
        options = {
            "request_deserializer": _parser(request_type),
            "response_serializer": response_type.SerializeToString,
        }
        if method.client_streaming and method.server_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(implementation, **options)
        elif not method.client_streaming and not method.server_streaming:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(_refusing_malformed(implementation), **options)
        else:
            raise NotImplementedError(f"{method.full_name}: only unary and bidirectional methods are served")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service_descriptor.full_name, handlers),))
