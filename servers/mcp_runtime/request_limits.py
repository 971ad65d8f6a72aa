"""Bounds on every request's body: its size (MCP_MAX_REQUEST_BYTES) and how long it may take
to arrive (MCP_BODY_TIMEOUT_SECONDS), enforced while it is read, before any route buffers it.

A body declared too large is refused before a byte of it is read; one sent in chunks is
counted as it streams and refused the moment it passes the limit. Either way the answer is
413 with `Connection: close`, so the rest of the body is never read; a body still incomplete
at its deadline gets 408 the same way. On /mcp the answer is a JSON-RPC error, as the MCP
SDK's own refusals are; elsewhere it is `{"error": ...}`, as the servers' REST routes answer.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

import structlog
from fastmcp.server.http import StreamableHTTPASGIApp
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_runtime.deadlines import BodyDeadlines, DeadlinePassed
from mcp_runtime.jsonrpc_errors import jsonrpc_error

_log = structlog.get_logger("mcp_runtime.request_limits")

_CLOSE = {"Connection": "close"}
_CUT_BY_DRAIN = "request body not received before the server began shutting down; send it again"


class BodyRefused(Exception):
    """Raised to the app from `receive` once the runtime has answered in its place."""


class RequestLimits:
    """ASGI middleware bounding each HTTP request's body in size and time.

    `jsonrpc_path` is the path (/mcp) whose refusals are JSON-RPC errors.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        body_timeout: float,
        deadlines: BodyDeadlines,
        jsonrpc_path: str,
    ) -> None:
        self._app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        self.deadlines = deadlines
        self._jsonrpc_path = jsonrpc_path
        self.too_large = f"request body too large: over MCP_MAX_REQUEST_BYTES={max_bytes} bytes"
        self.too_slow = (
            f"request body not received within MCP_BODY_TIMEOUT_SECONDS={body_timeout:g} s"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if declared_too_large(scope, self.max_bytes):
            await self.refusal(scope, 413, self.too_large)(scope, receive, send)
            return
        body = BoundedBody(self, scope, receive, send)
        try:
            await self._app(scope, body.receive, body.send)
        except ClientDisconnect:
            # A route reading the body of a client that left while sending it: no one to
            # answer, and the client's doing, not a server error to log with a traceback.
            if not body.left:
                raise
        except Exception:
            # The app unwinding from the BodyRefused it was handed, however it wrapped it
            # (task groups turn it into an ExceptionGroup): the client has its answer.
            if not body.refused:
                raise

    def refusal(self, scope: Scope, status_code: int, message: str) -> Response:
        # The client's doing, and a way to probe or tie up a server: worth a line, no more.
        _log.info("request_refused", status=status_code, path=scope["path"], reason=message)
        if scope["path"] == self._jsonrpc_path:
            return jsonrpc_error(status_code, message, headers=_CLOSE)
        return JSONResponse({"error": message}, status_code=status_code, headers=_CLOSE)


def declared_too_large(scope: Scope, max_bytes: int) -> bool:
    """Whether the request's Content-Length is over `max_bytes`."""
    declared = _content_length(scope)
    return declared is not None and declared > max_bytes


class BoundedBody:
    """`receive` and `send` of one request, counting and timing its body as it arrives.

    A body refused raises `BodyRefused` from `receive`, once the refusal is sent, and sets
    `refused`; `left` is set when the client went away before its body was complete."""

    def __init__(self, limits: RequestLimits, scope: Scope, receive: Receive, send: Send) -> None:
        self._limits = limits
        self._scope = scope
        self._receive = receive
        self._send = send
        self._started = asyncio.get_running_loop().time()
        self._size = 0
        self._complete = False
        self._response_started = False
        self.refused = False
        self.left = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        if self._complete:
            # Past the body only a disconnect can come, as late as it likes.
            return await self._receive()
        limits = self._limits
        try:
            message = await limits.deadlines.within(
                self._started, limits.body_timeout, self._receive()
            )
        except DeadlinePassed:
            message = await self._late()
        if message["type"] != "http.request":
            self._complete = True
            self.left = True
            return message
        self._size += len(message.get("body", b""))
        if self._size > limits.max_bytes:
            await self._refuse(413, limits.too_large)
        if not message.get("more_body", False):
            self._complete = True
        return message

    async def _late(self) -> Message:
        """The message that was due by the deadline just passed, if it came in time (the
        loop may not have run since); else the refusal."""
        arrived = await self._arrived_already()
        if arrived is None:
            limits = self._limits
            if asyncio.get_running_loop().time() < self._started + limits.body_timeout:
                await self._refuse(408, _CUT_BY_DRAIN)
            await self._refuse(408, limits.too_slow)
        return arrived

    async def _arrived_already(self) -> Message | None:
        """The next message if the server has it already, else None.

        A server too busy to run its loop for a while fires the deadline and reads the socket
        in the same turn: a body that came in time is taken, not refused."""
        try:
            async with asyncio.timeout(0):
                return await self._receive()
        except TimeoutError:
            return None

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the client has the runtime's answer; the app's comes too late
        if message["type"] == "http.response.start":
            self._response_started = True
        await self._send(message)

    async def _refuse(self, status_code: int, message: str) -> NoReturn:
        self.refused = True
        # Once the app has begun its own answer there is no other to give; the connection
        # is then closed when the app unwinds without finishing it.
        if not self._response_started:
            response = self._limits.refusal(self._scope, status_code, message)
            await response(self._scope, self._receive, self._send)
        raise BodyRefused(message)


def align_sdk_body_limit(sessions: StreamableHTTPASGIApp, max_bytes: int) -> None:
    """Make the MCP SDK's own body limit (4 MiB, which FastMCP does not let one change)
    `max_bytes` too, so that /mcp follows MCP_MAX_REQUEST_BYTES above 4 MiB as well.

    FastMCP creates the session manager when its app starts; call this then.
    """
    manager = sessions.session_manager
    assert manager is not None, "FastMCP's app has not started"
    manager.max_request_body_size = max_bytes
    manager.asgi_app.max_body_size = max_bytes


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server's HTTP parser refuses such requests
    return None
