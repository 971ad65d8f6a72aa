"""FastMCP's route for /mcp, and putting the runtime's layers into it.

FastMCP mounts the MCP SDK's streamable-HTTP endpoint at the MCP path, bare or inside its
RequireAuth middleware. The runtime's layers (the fast path, the JSON-RPC id check, the
session limit's answer) go between the two, so that authentication still comes first and
whatever they hand on reaches the endpoint as FastMCP would have delivered it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastmcp.server.auth.middleware import RequireAuthMiddleware
from fastmcp.server.http import StreamableHTTPASGIApp
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp

from mcp_runtime.auth import ExplainingRequireAuth


@dataclass(frozen=True)
class McpRoute:
    route: Route
    endpoint: StreamableHTTPASGIApp
    auth: RequireAuthMiddleware | None

    def serve_with(self, app: ASGIApp) -> None:
        """Serve the route with `app`, which ends in `endpoint`, behind the route's auth;
        its 401s then say why a token was refused when the runtime's verifier knows."""
        if self.auth is None:
            self.route.app = app
        else:
            self.route.app = ExplainingRequireAuth.replacing(self.auth, app)


def mcp_route(mcp_app: Starlette, path: str) -> McpRoute:
    """The route FastMCP's `http_app` made for `path`; raises if it is laid out otherwise
    than the FastMCP release pyproject.toml pins does it."""
    for route in mcp_app.router.routes:
        if not (isinstance(route, Route) and route.path == path):
            continue
        if isinstance(route.app, StreamableHTTPASGIApp):
            return McpRoute(route, route.app, None)
        if isinstance(route.app, RequireAuthMiddleware) and isinstance(
            route.app.app, StreamableHTTPASGIApp
        ):
            return McpRoute(route, route.app.app, route.app)
    raise RuntimeError(
        f"FastMCP's app has no streamable-HTTP endpoint at {path}; mcp_runtime expects the"
        " layout of the FastMCP release pyproject.toml pins"
    )
