"""One log event and one set of metric updates per tool call.

The event is the audit trail of the calls: which tool, how it ended, how long it took, the
request id and, when the request bore a token, who called (the token's subject and client id).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import structlog
from fastmcp.server.dependencies import get_access_token, get_http_request
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp_types import CallToolRequestParams

from mcp_runtime.metrics import ToolMetrics

REQUEST_ID_HEADER = "x-request-id"


class CallOutcome:
    """What one observed call ended with: an exception leaving the block counts as an error,
    a cancellation as `cancelled`."""

    def __init__(self) -> None:
        self.outcome = "error"

    def returned(self, is_error: bool) -> None:
        """The call returned a result, a tool error if `is_error`."""
        self.outcome = "error" if is_error else "ok"


class ToolCallEvents:
    """Times each tool call, counts it by tool and outcome, and logs one event for it.

    Shared by the FastMCP middleware and the runtime's fast path, so a call is recorded
    the same way whichever of them served it. Arguments and results are never logged:
    they may carry user data or credentials; nor is the token itself.
    """

    def __init__(self, metrics: ToolMetrics) -> None:
        self._metrics = metrics
        self._log = structlog.get_logger("mcp_runtime.tool_call")

    def observe(self, name: str) -> ObservedCall:
        """Time the block as one call of tool `name`, count it and log it; the block tells how
        the call ended through the `CallOutcome` it gets (an exception leaving it is an error,
        a cancellation `cancelled`)."""
        return ObservedCall(self, self._metrics.tool_label(name))

    def began(self) -> float:
        """Count a call as in flight; returns when it began."""
        self._metrics.in_flight.inc()
        return time.perf_counter()

    def ended(self, tool: str, call: CallOutcome, began: float, error_type: str | None) -> None:
        elapsed = time.perf_counter() - began
        self._metrics.in_flight.dec()
        self._metrics.observe(tool, call.outcome, elapsed)
        # Working out the request id costs more than a line filtered out by level.
        if self._log.is_enabled_for(logging.INFO):
            self._log.info(
                "tool_call",
                tool=tool,
                outcome=call.outcome,
                duration_ms=round(elapsed * 1000, 3),
                request_id=_request_id(),
                error_type=error_type,
                **_caller(),
            )


class ObservedCall:
    """`ToolCallEvents.observe`'s block: a class rather than a generator, which would cost
    every call about a microsecond more."""

    __slots__ = ("_began", "_call", "_events", "_tool")

    def __init__(self, events: ToolCallEvents, tool: str) -> None:
        self._events = events
        self._tool = tool
        self._call = CallOutcome()

    def __enter__(self) -> CallOutcome:
        self._began = self._events.began()
        return self._call

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        error_type = None
        if kind is not None and issubclass(kind, asyncio.CancelledError):
            # Its client went away (or the server is stopping): not the tool's failure.
            self._call.outcome = "cancelled"
        elif kind is not None and issubclass(kind, Exception):
            self._call.outcome = "error"
            error_type = kind.__name__
        self._events.ended(self._tool, self._call, self._began, error_type)


class ToolCallObserver(Middleware):
    """FastMCP middleware recording every tool call FastMCP itself serves."""

    def __init__(self, events: ToolCallEvents) -> None:
        self._events = events

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        with self._events.observe(context.message.name) as call:
            result = await call_next(context)
            call.returned(result.is_error)
            return result


def _caller() -> dict[str, str]:
    """Who made the call, as its token says: the subject (`sub`) of an OAuth access token, and
    the client id (`shared-token` in auth mode token, which has no subject); nothing without
    a token."""
    token = get_access_token()
    if token is None:
        return {}
    subject = token.claims.get("sub")
    return {"client_id": token.client_id} | ({"subject": str(subject)} if subject else {})


def _request_id() -> str:
    """The caller's X-Request-ID when it sent one, otherwise a fresh id."""
    try:
        header = get_http_request().headers.get(REQUEST_ID_HEADER)
    except RuntimeError:
        header = None
    # Bounded so a client cannot make us write arbitrarily long log lines.
    if header:
        return header[:128]
    # 16 random bytes in hex, as nginx's $request_id: the 32 characters uuid4().hex gave,
    # for a quarter of its CPU (building the UUID object was most of it).
    return os.urandom(16).hex()
