"""DNS-rebinding protection for a server's own HTTP routes, the same check /mcp gets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastmcp.server.http import HostOriginGuardMiddleware
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send


class HostOriginGuarded(BaseRoute):
    """`route` answered only when Host and Origin are allowed, else 421 or 403 like /mcp.

    Reuses FastMCP's own guard in strict mode, which is what
    `http_app(host_origin_protection=True)` puts in front of /mcp.
    """

    def __init__(
        self, route: BaseRoute, allowed_hosts: Sequence[str], allowed_origins: Sequence[str]
    ) -> None:
        self._route = route
        self._guard = HostOriginGuardMiddleware(
            route.handle,
            allowed_hosts=list(allowed_hosts),
            allowed_origins=list(allowed_origins),
            mode="strict",
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        return self._route.matches(scope)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self._route.url_path_for(name, **path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._guard(scope, receive, send)
