"""/metrics on MCP_METRICS_PORT alone, and nothing else there."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.probes import METRICS_PATH


class MetricsOnItsOwnPort:
    """Answers 404 for /metrics on any port but `port`, and for any other path on `port`:
    the MCP port's clients cannot read the metrics, nor can Prometheus reach /mcp."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self._app = app
        self._port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server")
            on_metrics_port = server is not None and server[1] == self._port
            if on_metrics_port != (scope["path"] == METRICS_PATH):
                await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)
                return
        await self._app(scope, receive, send)
