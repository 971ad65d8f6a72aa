"""Duration and outcome of every MCP request and notification a server handles, by method.

`mcp_server_operation_duration_seconds{mcp_method_name, outcome}` is OpenTelemetry's
`mcp.server.operation.duration` (semantic conventions for MCP) in Prometheus' naming: the
histogram's `_count` is the rate of each method. `outcome` is `error` when the request was
answered with a JSON-RPC error (OTel's `error.type` is set), `cancelled` when it was given up
on unanswered (its client went away), else `ok`; a tool's own failure is
an `ok` tools/call here and an `error` in `mcp_tool_calls_total`. Method names outside the
specification's are counted as `other`, so a client cannot grow the series.

An MCP SDK server middleware, so it sees every message whichever transport and protocol
generation brought it; the fast path records the calls it serves itself (`observe`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp_types import methods

from mcp_runtime.metrics import ToolMetrics

# Sub-millisecond pings to multi-second tool calls, as the tool histogram.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
KNOWN_METHODS = frozenset(methods.SPEC_CLIENT_METHODS | methods.SPEC_CLIENT_NOTIFICATION_METHODS)
OTHER = "other"
# A request given up on before it was answered (its client went away, or the server stopped).
CANCELLED = "cancelled"


class OperationMetrics:
    """SDK server middleware timing each message; created once per app."""

    def __init__(self, metrics: ToolMetrics) -> None:
        histogram = metrics.histogram(
            "mcp_server_operation_duration_seconds",
            "MCP requests and notifications handled, by method and outcome, in seconds"
            " (OpenTelemetry's mcp.server.operation.duration).",
            ("mcp_method_name", "outcome"),
            _BUCKETS,
        )
        self._histogram = histogram
        # Every series exists from the start, at zero: rates need no first occurrence.
        # `cancelled` ones appear with the first cancellation.
        self._series = {
            (method, outcome): histogram.labels(mcp_method_name=method, outcome=outcome)
            for method in (*KNOWN_METHODS, OTHER)
            for outcome in ("ok", "error")
        }

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        with self.observe(ctx.method):
            return await call_next(ctx)

    def observe(self, method: str) -> TimedOperation:
        """Time the block as one `method` message; an exception leaving it is an error."""
        return TimedOperation(self, method)

    def record(self, method: str, outcome: str, seconds: float) -> None:
        label = method if method in KNOWN_METHODS else OTHER
        series = self._series.get((label, outcome))
        if series is None:
            series = self._series[label, outcome] = self._histogram.labels(
                mcp_method_name=label, outcome=outcome
            )
        series.observe(seconds)


class TimedOperation:
    """`OperationMetrics.observe`'s block: a class rather than a generator, which would cost
    every message about a microsecond more."""

    __slots__ = ("_method", "_metrics", "_started")

    def __init__(self, metrics: OperationMetrics, method: str) -> None:
        self._metrics = metrics
        self._method = method

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            outcome = "ok"
        elif issubclass(kind, asyncio.CancelledError):
            outcome = CANCELLED
        else:
            outcome = "error"
        self._metrics.record(self._method, outcome, time.perf_counter() - self._started)
