"""pyml's own gRPC service, MultiLabelClassifier: Classify (unary), ClassifyStream
(bidirectional: answers leave as they finish, a bad item is an item's error) and
GetModelInfo, over the server's state (state.py) and its hosts (host.py)."""

from __future__ import annotations

import asyncio

import grpc

from ..errors import InputError, Reason
from ..v1 import classifier_pb2 as pb
from ..v1 import classifier_pb2_grpc as pb_grpc
from .errors import REASON_TRAILER, abort_with
from .host import STATUS_BY_NUMBER, ModelHost
from .lenient import MalformedRequest
from .state import ServerState
from .wire import error_response

SERVICE = pb.DESCRIPTOR.services_by_name["MultiLabelClassifier"]
SERVICE_NAME = SERVICE.full_name
MAX_MESSAGE_METADATA = "pyml-max-message-bytes"


class ClassifierService(pb_grpc.MultiLabelClassifierServicer):
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._counter = 0

    def _name(self) -> str:
        self._counter += 1
        return f"<request {self._counter}>"

    async def _resolve(self, model: str, version: str, context) -> ModelHost:
        """The host of a unary call, or the call ends with the table's status for why not."""
        try:
            return self.state.resolve(model, version)
        except Exception as exc:  # noqa: BLE001 - the table says what each answers
            await abort_with(context, exc)

    async def Classify(self, request, context):  # noqa: N802 (gRPC method name)
        host = await self._resolve(request.model, request.version, context)
        response = await host.classify(request, self._name(), context.time_remaining())
        if response.HasField("error"):
            # The status says what kind of failure; the trailer carries pyml's exact reason.
            context.set_trailing_metadata(((REASON_TRAILER, response.error.reason),))
            await context.abort(
                STATUS_BY_NUMBER.get(response.error.code, grpc.StatusCode.UNKNOWN), response.error.message
            )
        return response

    async def ClassifyStream(self, request_iterator, context):  # noqa: N802
        """Reads requests while answering earlier ones; answers leave as they finish. A
        request that cannot be answered (a bad image, an unknown model or version) gets a
        response with its error, and the stream goes on."""
        done: asyncio.Queue = asyncio.Queue()
        pending: set[asyncio.Task] = set()

        async def answer(request):
            if isinstance(request, MalformedRequest):
                return error_response("", self.state.default, InputError(request.message, reason=Reason.MALFORMED))
            try:
                host = self.state.resolve(request.model, request.version)
            except Exception as exc:  # noqa: BLE001 - this item's answer
                return error_response(request.request_id, request.model or self.state.default, exc)
            return await host.classify(request, self._name(), context.time_remaining())

        def finished(task: asyncio.Task) -> None:
            pending.discard(task)
            if not task.cancelled():  # cancelled: the caller has gone, nobody to answer
                done.put_nowait(task.result())

        async def read():
            async for request in request_iterator:
                task = asyncio.ensure_future(answer(request))
                pending.add(task)
                task.add_done_callback(finished)
            if pending:
                await asyncio.wait(set(pending))
            await asyncio.sleep(0)  # let the last done-callbacks run before the end marker
            done.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while (response := await done.get()) is not None:
                yield response
            await reader  # surfaces a broken request stream as this RPC's error
        finally:
            reader.cancel()
            for task in pending:
                task.cancel()

    async def GetModelInfo(self, request, context):  # noqa: N802
        host = await self._resolve(request.model, request.version, context)
        # The message limit, so a client can report an image too large for it instead of
        # sending it (in a stream, one oversized message would end the whole stream).
        await context.send_initial_metadata(((MAX_MESSAGE_METADATA, str(self.state.max_message_bytes)),))
        versions = sorted(self.state.models[host.name].versions, key=int)
        return host.info(list(self.state.hosts), versions)


__all__ = ["MAX_MESSAGE_METADATA", "SERVICE", "SERVICE_NAME", "ClassifierService"]
