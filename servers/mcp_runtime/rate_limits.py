"""Rate limits on /mcp: per caller and per server, answered with 429 and Retry-After.

A caller is the token's subject (`sub`), else its client id; without auth, the client's
address. Limits are counted with the `limits` library's sliding-window counters in this
process's memory: the per-server limit is per replica (and per worker), so N replicas let
N times the limit through, and a caller spread over replicas by the Service gets up to N
times its limit too. A limit shared across replicas would need a shared store (Redis), which
`limits` supports, at a network round trip per request.

Only POSTs count (each carries one JSON-RPC message); GET (the notification stream) and
DELETE (ending a session) are never refused. The layer sits behind authentication, so a
request with a bad token is refused with 401 before it can use up anyone's allowance.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING

import structlog
from fastmcp.server.auth import AccessToken
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.metrics import ToolMetrics
from mcp_runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from limits import RateLimitItem

_SERVER_KEY = "server"


class RateLimited:
    """ASGI layer answering 429 once the caller or the server is over its limit."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: ToolMetrics,
        per_caller: RateLimitItem | None,
        per_server: RateLimitItem | None,
    ) -> None:
        self._app = app
        self._per_caller = per_caller
        self._per_server = per_server
        # Imported here: `limits` takes ~0.2 s to import, which servers without limits skip.
        from limits.aio.storage import MemoryStorage
        from limits.aio.strategies import SlidingWindowCounterRateLimiter

        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._refused = metrics.counter(
            "mcp_rate_limited_requests",
            "Requests to /mcp refused with 429, by the limit they hit (caller or server).",
            ("limit",),
        )
        self._log = structlog.get_logger("mcp_runtime.rate_limits")

    @classmethod
    def wrapping(cls, app: ASGIApp, settings: RuntimeSettings, metrics: ToolMetrics) -> ASGIApp:
        """`app` behind the limits `settings` set, or `app` itself when none is."""
        caller = settings.mcp_rate_limit_per_caller
        server = settings.mcp_rate_limit_per_server
        if caller is None and server is None:
            return app
        from limits import parse

        return cls(
            app,
            metrics,
            None if caller is None else parse(caller),
            None if server is None else parse(server),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        caller = _caller(scope)
        # The caller's own limit first: a caller over it must not use up the server's.
        for limit, item, key in (
            ("caller", self._per_caller, ("caller", caller)),
            ("server", self._per_server, (_SERVER_KEY,)),
        ):
            if item is not None and not await self._limiter.hit(item, *key):
                await self._refuse(send, limit, item, key, caller)
                return
        await self._app(scope, receive, send)

    async def _refuse(
        self, send: Send, limit: str, item: RateLimitItem, key: tuple[str, ...], caller: str
    ) -> None:
        stats = await self._limiter.get_window_stats(item, *key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        self._refused.labels(limit=limit).inc()
        self._log.info("rate_limited", limit=limit, caller=caller, retry_after=retry_after)
        body = json.dumps(
            {
                "error": "rate_limited",
                "error_description": f"{limit} rate limit of {item} reached; retry in"
                f" {retry_after} s",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _caller(scope: Scope) -> str:
    user = scope.get("user")
    if isinstance(user, AuthenticatedUser):
        token = user.access_token
        subject = token.claims.get("sub") if isinstance(token, AccessToken) else None
        return f"sub:{subject}" if subject else f"client:{token.client_id}"
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"
