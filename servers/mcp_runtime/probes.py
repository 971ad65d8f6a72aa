"""/health, /ready and /metrics: plain HTTP endpoints outside authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_runtime.lifecycle import Lifecycle
from mcp_runtime.metrics import ToolMetrics
from mcp_runtime.readiness_log import ReadinessLog

# Raises when a dependency is unreachable; may return a note that /ready shows while ready
# (a gateway naming the upstreams that are down while others still answer).
ReadinessCheck = Callable[[], Awaitable[str | None]]

# A dependency that does not answer within this time counts as unreachable; the
# kubelet's own probe timeout is typically a few seconds longer.
CHECK_TIMEOUT_SECONDS = 2.0

METRICS_PATH = "/metrics"
PROBE_PATHS = frozenset({"/health", "/ready", METRICS_PATH})


def probe_routes(
    lifecycle: Lifecycle,
    metrics: ToolMetrics,
    checks: Sequence[ReadinessCheck],
) -> list[Route]:
    readiness_log = ReadinessLog()

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        reason, notes = await _not_ready_reason(lifecycle, metrics, checks, readiness_log)
        if reason is None:
            return JSONResponse(
                {"status": "ready", "notes": notes} if notes else {"status": "ready"}
            )
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route(METRICS_PATH, metrics_endpoint, methods=["GET"]),
    ]


async def _not_ready_reason(
    lifecycle: Lifecycle,
    metrics: ToolMetrics,
    checks: Sequence[ReadinessCheck],
    readiness_log: ReadinessLog,
) -> tuple[str | None, list[str]]:
    """Why the server is not ready (None when it is), and the checks' notes."""
    if lifecycle.draining:
        return "draining", []
    if not lifecycle.started:
        return "starting", []
    if not metrics.known_tools:
        return "no tools registered", []
    results = await asyncio.gather(
        *(asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS) for check in checks),
        return_exceptions=True,
    )
    for check, result in zip(checks, results, strict=True):
        if isinstance(result, BaseException):
            name = getattr(check, "__name__", "check")
            reason = _describe_failure(name, result)
            readiness_log.failed(name, reason)
            return reason, []
    readiness_log.passed()
    return None, [result for result in results if isinstance(result, str) and result]


def _describe_failure(name: str, error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"{name}: no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    return f"{name}: {type(error).__name__}: {error}"
