"""Bounds on stateful MCP sessions (MCP_STATELESS=false): how many may be open at once
(MCP_MAX_SESSIONS) and how long one may sit idle (MCP_SESSION_IDLE_TIMEOUT_SECONDS).

The MCP SDK's session manager enforces both (`max_sessions`, `session_idle_timeout`), but
FastMCP passes it neither: its defaults, 10 000 sessions at ~37 KB each, are more than a
pod's memory. The runtime sets them, answers a refused session in words that say what to
do, and counts open sessions on /metrics. An expired session is forgotten by the SDK, so
its id then gets the SDK's 404 "Session not found" like any unknown one, and the client
initializes a new session.
"""

from __future__ import annotations

import structlog
from fastmcp.server.http import StreamableHTTPASGIApp
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types import INTERNAL_ERROR
from prometheus_client import CollectorRegistry, Gauge
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_runtime.internals import open_sessions as sessions_open_in
from mcp_runtime.jsonrpc_errors import jsonrpc_error
from mcp_runtime.protocol_generation import session_less

_log = structlog.get_logger("mcp_runtime.sessions")

# Sessions free up as clients close them or they idle out; a client retrying sooner than
# this would mostly be refused again.
RETRY_AFTER_SECONDS = 30


def count_sessions(registry: CollectorRegistry, sessions: StreamableHTTPASGIApp) -> None:
    """Serve `mcp_sessions_active`, the stateful sessions open now, from `registry`."""

    def open_sessions() -> int:
        manager = sessions.session_manager
        return 0 if manager is None else sessions_open_in(manager)

    gauge = Gauge(
        "mcp_sessions_active",
        "Stateful MCP sessions open (always 0 on a stateless server).",
        registry=registry,
    )
    gauge.set_function(open_sessions)


def limit_sessions(sessions: StreamableHTTPASGIApp, max_sessions: int) -> None:
    """Cap the running session manager at `max_sessions` open sessions.

    FastMCP creates the manager when its app starts; call this then, before any request.
    """
    manager = sessions.session_manager
    assert manager is not None, "FastMCP's app has not started"
    manager.max_sessions = max_sessions
    if not manager.stateless:
        _log.info(
            "session_limits",
            max_sessions=max_sessions,
            idle_timeout_seconds=manager.session_idle_timeout,
        )


class SessionLimitAnswer:
    """In front of FastMCP's /mcp endpoint on a stateful server: the SDK refuses a session
    past the cap with a bare 503 "Too many open sessions"; this gives it Retry-After and a
    message naming the setting. The SDK's own check stays the one that decides, under its
    lock, so concurrent openings cannot slip past the cap."""

    def __init__(self, app: ASGIApp, max_sessions: int) -> None:
        self._app = app
        self._message = (
            f"session limit reached (MCP_MAX_SESSIONS={max_sessions});"
            " close idle sessions or raise the limit"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _opens_session(scope):
            await self._app(scope, receive, send)
            return
        replaced = False

        async def send_with_our_refusal(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 503:
                replaced = True
                response = jsonrpc_error(
                    503,
                    self._message,
                    code=INTERNAL_ERROR,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
                await response(scope, receive, send)
            elif not replaced:
                await send(message)

        await self._app(scope, receive, send_with_our_refusal)


def _opens_session(scope: Scope) -> bool:
    """A POST without a session id of the session-based generation: the SDK's new-session case."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    headers = Headers(scope=scope)
    version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    return MCP_SESSION_ID_HEADER not in headers and not session_less(version)
