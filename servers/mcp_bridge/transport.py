"""A FastMCP client transport over one child's stdin and stdout.

Like the MCP SDK's stdio client (newline-delimited JSON-RPC), plus what a long-lived bridge
needs: a size cap per message, stdout noise logged and skipped, and every request still
waiting when the child dies answered at once with an error that says so. The JSON-RPC
session itself (ids, handshake, timeouts) is the SDK's ClientSession.

The tool relay's calls, the bridge's hot path, skip the session: `ChildPipes.request` sends
them on the same pipes and takes their answers off stdout before the session would parse
them. A session request costs the SDK a memory stream, a span, a request clock and a
model round trip each way, about a third of the bridge's CPU per call; the pipes already
keep what a call needs (the request waiting, the answer in the child's place when it
exits or answers too much).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import mcp_types
import structlog
from anyio.abc import ObjectSendStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastmcp.client.transports.base import ClientTransport, SessionKwargs, TransportOptions
from mcp import ClientSession
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from typing_extensions import Unpack

from mcp_bridge.child import ChildProcess
from mcp_bridge.lines import LineSplitter, LongLine

# After the child exits, what it wrote just before still reaches the session, unless a
# grandchild holds stdout open, in which case the bridge stops waiting after this long.
_STDOUT_DRAIN_SECONDS = 1.0
# How long the bridge tries to tell the child a request of its own was cancelled (the SDK's
# bound for the same courtesy), so a child that stopped reading cannot hold the call.
_CANCEL_SEND_SECONDS = 5.0
# How much of a line that is not JSON-RPC a log event quotes.
_QUOTE_CHARS = 200

_ID = rb'(-?\d+|"(?:[^"\\]|\\.)*")'
_HEAD_ID = re.compile(rb'\A\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*' + _ID)
_TAIL_ID = re.compile(rb'"id"\s*:\s*' + _ID + rb'\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*\Z')
# A notification or request of the child's own: no answer of ours is waiting for it.
_HEAD_METHOD = re.compile(
    rb'\A\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?(?:"id"\s*:\s*' + _ID + rb'\s*,\s*)?"method"\s*:'
)

# The ids of the bridge's own requests (`ChildPipes.request`): far above the session's,
# which count up from 1, and within 31 bits for servers that keep an id in an int.
_OWN_IDS = range(1_000_000_000, 2_000_000_000)

_log = structlog.get_logger("mcp_bridge.transport")

RequestId = int | str


class ForwardingSession(ClientSession):
    """Relays tool results without checking them against the tool's output schema: that
    check belongs to the end client, which makes it itself (FastMCP's proxies do the same)."""

    async def validate_tool_result(self, name: str, result: mcp_types.CallToolResult) -> None:
        return None


class PendingRequests:
    """The requests sent to the child and not answered yet, by id: their method."""

    def __init__(self) -> None:
        self._methods: dict[RequestId, str] = {}

    def sent(self, request_id: RequestId, method: str) -> None:
        self._methods[request_id] = method

    def take(self, request_id: object) -> tuple[RequestId, str] | None:
        """Forget the request `request_id` names; its id as sent and its method."""
        key = self.key(request_id)
        return None if key is None else (key, self._methods.pop(key))

    def take_all(self) -> list[tuple[RequestId, str]]:
        taken = list(self._methods.items())
        self._methods.clear()
        return taken

    def only(self) -> RequestId | None:
        return next(iter(self._methods)) if len(self._methods) == 1 else None

    def key(self, request_id: object) -> RequestId | None:
        """`request_id` as it was sent, if a request of that id is waiting."""
        # A peer may echo 7 as "7" or the reverse; the SDK matches them the same way.
        candidates: list[object] = [request_id]
        if isinstance(request_id, str) and request_id.lstrip("-").isdigit():
            candidates.append(int(request_id))
        elif isinstance(request_id, int):
            candidates.append(str(request_id))
        for candidate in candidates:
            if candidate in self._methods:
                return candidate  # type: ignore[return-value]
        return None


def answer_with_error(request_id: RequestId, method: str, text: str) -> mcp_types.JSONRPCMessage:
    """What the bridge answers in the child's place: a tool error for a tool call (what
    an agent reads and can act on), a JSON-RPC error for anything else."""
    if method == "tools/call":
        return mcp_types.JSONRPCResponse(
            jsonrpc="2.0",
            id=request_id,
            result={"content": [{"type": "text", "text": text}], "isError": True},
        )
    return mcp_types.JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=mcp_types.ErrorData(code=mcp_types.INTERNAL_ERROR, message=text),
    )


def exit_message(child: ChildProcess) -> str:
    if child.stopped_by_bridge:
        return (
            f"the stdio server was stopped ({child.exit_description()}) while this call was"
            " running; the bridge is shutting down"
        )
    return (
        f"the stdio server exited ({child.exit_description()}) while this call was running;"
        " it is restarting"
    )


def answer_envelope(line: bytes) -> dict[str, Any] | None:
    """`line` as JSON if it is a JSON-RPC result, the common answer; None for anything
    else (an error, a request, a notification, not JSON-RPC), which the SDK's parse then
    checks and reports."""
    try:
        envelope = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if (
        type(envelope) is not dict
        or envelope.get("jsonrpc") != "2.0"
        or type(envelope.get("result")) is not dict
        or "error" in envelope
        or "method" in envelope
    ):
        return None
    return envelope


def long_line_id(line: LongLine) -> object | None:
    """The JSON-RPC id of an over-long answer, read from whichever end holds it."""
    if _HEAD_METHOD.search(line.head):
        return None
    match = _HEAD_ID.search(line.head) or _TAIL_ID.search(line.tail)
    if match is None:
        return None
    try:
        return json.loads(match.group(1))
    except ValueError:
        return None


class ChildPipes:
    """Moves messages between one child's stdout/stdin and a ClientSession's streams, and
    carries the bridge's own requests beside the session's."""

    def __init__(self, child: ChildProcess, max_message_bytes: int) -> None:
        self._child = child
        self._limit = max_message_bytes
        self._pending = PendingRequests()
        self._to_session: MemoryObjectSendStream[SessionMessage | Exception]
        self.session_reads: MemoryObjectReceiveStream[SessionMessage | Exception]
        self._to_session, self.session_reads = anyio.create_memory_object_stream[
            SessionMessage | Exception
        ](0)
        self.session_writes = _SessionWrites(self)
        self._stdout_done = anyio.Event()
        self._child_gone = False
        self._own_ids = itertools.cycle(_OWN_IDS)
        self._own: dict[RequestId, asyncio.Future[dict[str, Any]]] = {}

    async def request(self, method: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a request of the bridge's own and return its result, as the session's
        `send_request` with a progress callback would send and return it. The child's
        JSON-RPC error, no answer within `timeout` seconds and closed pipes raise MCPError
        with the session's codes; a caller cancelled is followed by the session's
        `notifications/cancelled`."""
        request_id = next(self._own_ids)
        if self._child_gone:
            return _result_of(answer_with_error(request_id, method, exit_message(self._child)))
        answer = asyncio.get_running_loop().create_future()
        self._own[request_id] = answer
        self._pending.sent(request_id, method)
        # The session makes the request id the progress token.
        meta = {**params.get("_meta", {}), "progressToken": request_id}
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        message["params"] = {**params, "_meta": meta}
        try:
            try:
                # The send is on the clock too: a child that stops reading its stdin (a
                # blocked event loop) fills the pipe, and the send then waits as long as it.
                async with asyncio.timeout(timeout):
                    # The child may be gone or have closed its stdin; `answer_after_exit`
                    # answers.
                    with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                        await self._child.stdin.send(_line(message))
                    envelope = await answer
            except TimeoutError:
                raise MCPError(
                    code=mcp_types.REQUEST_TIMEOUT,
                    message=f"Timed out while waiting for response to {method}."
                    f" Waited {timeout} seconds.",
                ) from None
        finally:
            if self._own.pop(request_id, None) is not None:
                # Not answered: timed out, or the caller was cancelled.
                self._pending.take(request_id)
                await self._cancel(request_id)
        if "error" in envelope:
            raise MCPError.from_error_data(mcp_types.ErrorData.model_validate(envelope["error"]))
        result: dict[str, Any] = envelope["result"]
        return result

    async def _cancel(self, request_id: RequestId) -> None:
        """Tell the child to stop working on a request nobody waits for any more."""
        note = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id},
        }
        # Shielded, as the caller may be cancelled, but bounded as the SDK bounds its own
        # courtesy cancel: a child that no longer reads its stdin must not hold the call.
        with (
            anyio.move_on_after(_CANCEL_SEND_SECONDS, shield=True),
            suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError),
        ):
            await self._child.stdin.send(_line(note))

    def _answer_own(
        self,
        request_id: RequestId,
        answer: dict[str, Any] | mcp_types.JSONRPCResponse | mcp_types.JSONRPCError,
    ) -> bool:
        """Give `answer` to the bridge's own request `request_id` (as sent), if it is one;
        a parsed message is dumped only then."""
        waiting = self._own.pop(request_id, None)
        if waiting is None:
            return False
        if not waiting.done():
            waiting.set_result(answer if isinstance(answer, dict) else _dumped(answer))
        return True

    async def read_stdout(self) -> None:
        splitter = LineSplitter(self._limit)
        try:
            async for chunk in self._child.stdout:
                for line in splitter.feed(chunk):
                    await self._handle_line(line)
            for line in splitter.finish():
                await self._handle_line(line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            pass
        finally:
            self._stdout_done.set()

    async def write(self, session_message: SessionMessage) -> None:
        """Send one message of the session to the child, in the sender's task."""
        message = session_message.message
        if isinstance(message, mcp_types.JSONRPCRequest):
            self._pending.sent(message.id, message.method)
        elif (
            isinstance(message, mcp_types.JSONRPCNotification)
            and message.method == "notifications/cancelled"
        ):
            self._pending.take((message.params or {}).get("requestId"))
        if self._child_gone:
            if isinstance(message, mcp_types.JSONRPCRequest):
                self._pending.take(message.id)
                text = exit_message(self._child)
                await self._deliver(answer_with_error(message.id, message.method, text))
            return
        data = message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
        # The child may be gone or have closed its stdin; `answer_after_exit` answers then.
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await self._child.stdin.send(data.encode())

    async def answer_after_exit(self) -> None:
        """Once the child has exited: deliver what it still wrote, then answer every request
        left waiting in its place, then end the session's stream."""
        await self._child.exited.wait()
        with anyio.move_on_after(_STDOUT_DRAIN_SECONDS):
            await self._stdout_done.wait()
        self._child_gone = True
        text = exit_message(self._child)
        for request_id, method in self._pending.take_all():
            await self._deliver(answer_with_error(request_id, method, text))
        await self._to_session.aclose()

    async def _handle_line(self, line: bytes | LongLine) -> None:
        if isinstance(line, LongLine):
            await self._handle_long_line(line)
            return
        if self._own and (envelope := answer_envelope(line)) is not None:
            key = self._pending.key(envelope.get("id"))
            if key in self._own:
                self._pending.take(key)
                self._answer_own(key, envelope)
                return
        try:
            message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except ValueError as error:
            # Servers that print a banner or debug output to stdout: skip it, keep serving.
            _log.warning(
                "bridge_child_stdout_not_jsonrpc",
                pid=self._child.pid,
                line=line[:_QUOTE_CHARS].decode("utf-8", "replace"),
                error=str(error).splitlines()[0][:_QUOTE_CHARS],
            )
            return
        if isinstance(message, mcp_types.JSONRPCResponse | mcp_types.JSONRPCError):
            taken = self._pending.take(message.id)
            if taken is not None and self._answer_own(taken[0], message):
                return
        await self._deliver(message)

    async def _handle_long_line(self, line: LongLine) -> None:
        request_id = long_line_id(line)
        taken = self._pending.take(request_id)
        if (
            taken is None
            # An id that was read but is no longer waiting (a call that timed out or was
            # cancelled) is that call's late answer, never another call's.
            and request_id is None
            and not _HEAD_METHOD.search(line.head)
            and (only := self._pending.only()) is not None
        ):
            # The id could not be read, but only one request was waiting: it is that one's.
            taken = self._pending.take(only)
        _log.warning(
            "bridge_child_message_too_large",
            pid=self._child.pid,
            bytes=line.size,
            limit=self._limit,
            request_id=None if taken is None else taken[0],
            method=None if taken is None else taken[1],
        )
        if taken is None:
            return
        request_id, method = taken
        text = (
            f"the stdio server's answer was {line.size} bytes, over"
            f" MCP_BRIDGE_MAX_MESSAGE_BYTES={self._limit}; it was dropped"
        )
        await self._deliver(answer_with_error(request_id, method, text))

    async def _deliver(self, message: mcp_types.JSONRPCMessage) -> None:
        """Pass on the bridge's answer in the child's place (or the child's own message),
        to the request of the bridge's or the session it answers."""
        if isinstance(
            message, mcp_types.JSONRPCResponse | mcp_types.JSONRPCError
        ) and self._answer_own(message.id, message):
            return
        item = SessionMessage(message)
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            try:
                # To the session waiting for it, without first yielding to the event loop.
                self._to_session.send_nowait(item)
            except anyio.WouldBlock:
                await self._to_session.send(item)

    async def aclose(self) -> None:
        closed = MCPError(code=mcp_types.CONNECTION_CLOSED, message="Connection closed")
        for answer in self._own.values():
            if not answer.done():
                answer.set_exception(closed)
        self._own.clear()
        for stream in (self._to_session, self.session_reads, self.session_writes):
            await stream.aclose()


def _line(message: dict[str, Any]) -> bytes:
    """`message` as one line of UTF-8 JSON, as the session writes it."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _dumped(message: mcp_types.JSONRPCResponse | mcp_types.JSONRPCError) -> dict[str, Any]:
    return message.model_dump(by_alias=True, mode="json", exclude_none=True)


def _result_of(message: mcp_types.JSONRPCMessage) -> dict[str, Any]:
    assert isinstance(message, mcp_types.JSONRPCResponse)
    return message.result


class _SessionWrites(ObjectSendStream[SessionMessage]):
    """The session's write stream: each message goes to the child's stdin from the task
    that sends it, rather than through a memory stream to a writer task, which cost every
    request two more rounds of the event loop."""

    def __init__(self, pipes: ChildPipes) -> None:
        self._pipes = pipes
        self._closed = False

    async def send(self, item: SessionMessage) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        await self._pipes.write(item)

    async def aclose(self) -> None:
        self._closed = True


@asynccontextmanager
async def child_streams(
    child: ChildProcess, max_message_bytes: int
) -> AsyncIterator[
    tuple[
        ChildPipes,
        MemoryObjectReceiveStream[SessionMessage | Exception],
        ObjectSendStream[SessionMessage],
    ]
]:
    """The pipes to `child`, and the read and write streams of a ClientSession on them."""
    pipes = ChildPipes(child, max_message_bytes)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(pipes.read_stdout)
        tasks.start_soon(pipes.answer_after_exit)
        try:
            yield pipes, pipes.session_reads, pipes.session_writes
        finally:
            tasks.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                await pipes.aclose()


class ChildTransport(ClientTransport):
    """Connects a FastMCP Client to one already running child; usable once."""

    legacy_only = True

    def __init__(self, child: ChildProcess, max_message_bytes: int) -> None:
        self._child = child
        self._max_message_bytes = max_message_bytes
        self._connected = False
        self.pipes: ChildPipes | None = None

    @asynccontextmanager
    async def connect_session(
        self,
        *,
        transport_options: TransportOptions | None = None,
        **session_kwargs: Unpack[SessionKwargs],
    ) -> AsyncIterator[ClientSession]:
        if self._connected:
            # A child's pipes carry one session; a new one needs a new child.
            raise RuntimeError(f"the stdio server (pid {self._child.pid}) was already connected")
        self._connected = True
        async with child_streams(self._child, self._max_message_bytes) as (pipes, read, write):
            # The tool relay's requests go on these pipes beside the session's.
            self.pipes = pipes
            kwargs: dict[str, Any] = dict(session_kwargs)
            async with ForwardingSession(read, write, **kwargs) as session:
                yield session

    def __repr__(self) -> str:
        return f"<ChildTransport(pid={self._child.pid})>"
