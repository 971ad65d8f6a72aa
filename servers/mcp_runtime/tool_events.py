"""One log event and one set of metric updates per tool call."""

from __future__ import annotations

import time
import uuid

import structlog
from fastmcp.server.dependencies import get_http_request
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from fastmcp.tools import ToolResult
from mcp_types import CallToolRequestParams

from mcp_runtime.metrics import ToolMetrics

REQUEST_ID_HEADER = "x-request-id"


class ToolCallObserver(Middleware):
    """Times each tool call, counts it by tool and outcome, and logs one event for it.

    Arguments and results are never logged: they may carry user data or credentials.
    """

    def __init__(self, metrics: ToolMetrics) -> None:
        self._metrics = metrics
        self._log = structlog.get_logger("mcp_runtime.tool_call")

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        tool = self._metrics.tool_label(context.message.name)
        outcome = "error"
        error_type: str | None = None
        self._metrics.in_flight.inc()
        started = time.perf_counter()
        try:
            result = await call_next(context)
            outcome = "error" if result.is_error else "ok"
            return result
        except Exception as exc:
            error_type = type(exc).__name__
            raise
        finally:
            elapsed = time.perf_counter() - started
            self._metrics.in_flight.dec()
            self._metrics.observe(tool, outcome, elapsed)
            self._log.info(
                "tool_call",
                tool=tool,
                outcome=outcome,
                duration_ms=round(elapsed * 1000, 3),
                request_id=_request_id(),
                error_type=error_type,
            )


def _request_id() -> str:
    """The caller's X-Request-ID when it sent one, otherwise a fresh id."""
    try:
        header = get_http_request().headers.get(REQUEST_ID_HEADER)
    except RuntimeError:
        header = None
    # Bounded so a client cannot make us write arbitrarily long log lines.
    return header[:128] if header else uuid.uuid4().hex
