"""One pool of keep-alive connections per server, for its MCP session and its REST calls."""

from __future__ import annotations

import httpx2

# Idle connections are kept for 4 s: less than the 5 s after which uvicorn (every server of
# this repository) closes one, so that none is picked for a request just as it closes.
_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)


class ServerConnections:
    """The pool, and the HTTP clients over it.

    FastMCP closes the HTTP client of a session when the session ends (after a failure the
    client starts a new one); its connections are the pool's and stay open for the next.
    """

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        self._pool = httpx2.AsyncHTTPTransport(limits=_LIMITS)
        self._timeout = httpx2.Timeout(timeout_seconds)
        self.rest = httpx2.AsyncClient(
            base_url=base_url, transport=_Lent(self._pool), timeout=self._timeout
        )

    def mcp_http_client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
        **_: object,
    ) -> httpx2.AsyncClient:
        """An `McpHttpClientFactory` for FastMCP's StreamableHttpTransport."""
        return httpx2.AsyncClient(
            transport=_Lent(self._pool),
            headers=headers,
            timeout=timeout or self._timeout,
            auth=auth,
        )

    async def aclose(self) -> None:
        await self.rest.aclose()
        await self._pool.aclose()


class _Lent(httpx2.AsyncBaseTransport):
    """The pool as a client's transport: closing the client leaves the pool open."""

    def __init__(self, pool: httpx2.AsyncHTTPTransport) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._pool.handle_async_request(request)

    async def aclose(self) -> None:
        """The pool outlives its clients; ServerConnections.aclose closes it."""
