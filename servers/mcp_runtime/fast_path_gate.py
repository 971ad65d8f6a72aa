"""Whether /mcp gets the fast path: decided once per app, before its modules are imported.

The fast path (`mcp_runtime.fast_path`) mirrors FastMCP's and the MCP SDK's internals, so it
is right only on the releases it was checked against: the differential tests
(tests/runtime/test_runtime_fast_path.py) compare its answers, metrics and logs with
FastMCP's on exactly these versions. With MCP_FAST_PATH=false, or any other version
installed, the server runs plain FastMCP and the fast path's modules are never imported;
an unverified version is logged once as a `fast_path_disabled` warning naming both sets of
versions, so whoever upgraded knows to re-run those tests and update VERIFIED_VERSIONS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import structlog
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.verified_versions import VERIFIED_VERSIONS, installed_version

if TYPE_CHECKING:
    from fastmcp import FastMCP
    from fastmcp.server.http import StreamableHTTPASGIApp
    from starlette.applications import Starlette
    from starlette.routing import Route

    from mcp_runtime.lifecycle import Lifecycle
    from mcp_runtime.settings import RuntimeSettings
    from mcp_runtime.tool_events import ToolCallEvents
    from mcp_runtime.tool_grants import ToolAuthorization
    from mcp_runtime.tool_relay import ToolRelay


_log = structlog.get_logger("mcp_runtime.fast_path")


class FastPathApp(Protocol):
    """What the app needs of the fast path: an ASGI app it turns on once serving."""

    enabled: bool

    async def start(self) -> None: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


def installed_versions() -> dict[str, str | None]:
    """The installed versions of what VERIFIED_VERSIONS names; None for a missing one."""
    import fastmcp

    found: dict[str, str | None] = {"fastmcp": fastmcp.__version__}
    for distribution in ("mcp", "mcp-types"):
        found[distribution] = installed_version(distribution)
    return found


def fast_path_for(
    settings: RuntimeSettings,
    endpoint: ASGIApp,
    sessions: StreamableHTTPASGIApp,
    mcp: FastMCP,
    events: ToolCallEvents,
    relays: Sequence[ToolRelay],
    authorization: ToolAuthorization | None = None,
) -> FastPathApp | None:
    """The fast path in front of `endpoint`, or None when /mcp is to be plain FastMCP."""
    if not settings.mcp_fast_path:
        _log.info("fast_path_disabled", reason="MCP_FAST_PATH=false")
        return None
    found = installed_versions()
    if found != VERIFIED_VERSIONS:
        _log.warning(
            "fast_path_disabled",
            reason="FastMCP or MCP SDK version not verified for the fast path",
            found=found,
            verified=VERIFIED_VERSIONS,
        )
        return None
    # Imported only now: a server without the fast path never loads it.
    from mcp_runtime.fast_path.endpoint import FastPath
    from mcp_runtime.fast_path.tool_calls import FastToolCalls

    return FastPath(endpoint, sessions, FastToolCalls(mcp, events, relays, authorization))


def fast_front_for(
    fast_path: FastPathApp | None,
    mcp_app: Starlette,
    route: Route,
    lifecycle: Lifecycle,
    **limits: object,
) -> Middleware | None:
    """The fast path's front (fast_path/front.py) as the app's outermost middleware, or None
    when there is no fast path or something stands between FastMCP's route and it."""
    if fast_path is None:
        return None
    from mcp_runtime.fast_path.front import FastFront

    if not FastFront.fits(mcp_app, route, fast_path):
        return None
    return Middleware(
        FastFront, fast_path=fast_path, mcp_app=mcp_app, route=route, lifecycle=lifecycle, **limits
    )
