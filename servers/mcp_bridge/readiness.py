"""/ready for the bridge: false until the child has answered initialize and tools/list."""

from __future__ import annotations

from mcp_runtime.lifecycle import Lifecycle
from mcp_runtime.metrics import ToolMetrics
from mcp_runtime.probes import ReadinessCheck
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_bridge.supervisor import Supervisor


class StdioServerNotReady(Exception):
    """The child is starting, restarting or gone; the message says which."""


def stdio_server_check(supervisor: Supervisor) -> ReadinessCheck:
    # The function's name is what /ready reports when the check fails.
    async def stdio_server() -> None:
        if (reason := supervisor.not_ready_reason) is not None:
            raise StdioServerNotReady(reason)

    return stdio_server


def not_ready_reason(reason: str) -> str:
    """The reason as the runtime words a failed check (probes._describe_failure)."""
    return f"stdio_server: {StdioServerNotReady.__name__}: {reason}"


class ChildReadiness:
    """Answers /ready with the child's reason while the runtime knows no tools yet.

    The runtime reports "no tools registered" before it runs readiness checks, and the
    child's tools are only known once it has answered; without this, /ready would hide
    why a child never got that far (a hung initialize, a crash at start).
    """

    def __init__(
        self, app: ASGIApp, supervisor: Supervisor, lifecycle: Lifecycle, metrics: ToolMetrics
    ) -> None:
        self._app = app
        self._supervisor = supervisor
        self._lifecycle = lifecycle
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/ready"
            and self._lifecycle.started
            and not self._lifecycle.draining
            and not self._metrics.known_tools
            and (reason := self._supervisor.not_ready_reason) is not None
        ):
            body = {"status": "not ready", "reason": not_ready_reason(reason)}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        await self._app(scope, receive, send)
