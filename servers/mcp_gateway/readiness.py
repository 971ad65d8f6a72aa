"""/ready before the gateway knows any tool: list the upstreams again first.

The runtime answers "no tools registered" until some tools/list has named a tool, and an
upstream that was down when the gateway started (pods of one release start together) is
listed only when a client asks. A gateway that is not ready gets no clients, so without a
listing of its own it would wait for one forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from mcp_runtime.lifecycle import Lifecycle
from mcp_runtime.metrics import ToolMetrics
from starlette.types import ASGIApp, Receive, Scope, Send

# Within the kubelet's default 1 s probe timeout; a listing that takes longer finishes in the
# background and counts at the next probe.
DISCOVERY_SECONDS = 0.8

_log = structlog.get_logger("mcp_gateway.readiness")


class DiscoverTools:
    """Middleware: a /ready while no tool is known first lists every upstream's tools."""

    def __init__(
        self,
        app: ASGIApp,
        lifecycle: Lifecycle,
        metrics: ToolMetrics,
        discover: Callable[[], Awaitable[object]],
    ) -> None:
        self._app = app
        self._lifecycle = lifecycle
        self._metrics = metrics
        self._discover = discover
        self._listing: asyncio.Task[object] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/ready"
            and self._lifecycle.started
            and not self._lifecycle.draining
            and not self._metrics.known_tools
        ):
            await self._list_once()
        await self._app(scope, receive, send)

    async def _list_once(self) -> None:
        # One listing at a time, shared by overlapping probes; it outlives a probe that
        # stops waiting, so a slow upstream still gets counted.
        if self._listing is None or self._listing.done():
            self._listing = asyncio.create_task(self._discover())
            self._listing.add_done_callback(_log_failure)
        await asyncio.wait({self._listing}, timeout=DISCOVERY_SECONDS)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        _log.warning("tool_discovery_failed", error=f"{type(error).__name__}: {error}")
