"""Keep-alive HTTP connections to one upstream, shared by every client FastMCP's proxy builds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Protocol

import httpx2
from mcp_runtime.tracing import tracing_enabled

# A connection to an upstream takes milliseconds; one that has not come in 5 s will not come
# (a NetworkPolicy drops the packets to a Service without endpoints, it does not refuse them),
# and the call may try again (`connect_retries`). Otherwise the MCP SDK's defaults for its HTTP
# clients (create_mcp_http_client); the upstream's `timeout_seconds` bounds a call anyway.
CONNECT_TIMEOUT_SECONDS = 5.0
_TIMEOUT = httpx2.Timeout(30.0, connect=CONNECT_TIMEOUT_SECONDS, read=300.0)

# No cap on connections, as before with one per call: a busy upstream is the upstream's
# queue, not the gateway's. Idle ones are kept for up to 100 concurrent calls, for 4 s:
# less than the 5 s after which uvicorn (every server of this repository) closes an idle
# keep-alive, so that the gateway drops one before a call could be sent on it as it closes.
IDLE_CONNECTIONS_KEPT = 100
IDLE_SECONDS = 4.0
_LIMITS = httpx2.Limits(
    max_connections=None,
    max_keepalive_connections=IDLE_CONNECTIONS_KEPT,
    keepalive_expiry=IDLE_SECONDS,
)

# The caller's W3C trace context. A tracing gateway keeps it: the upstream's spans hang from the
# gateway's own, which FastMCP's client sends in each request's `_meta`, and the upstream would
# prefer a header (the runtime's tracing.http_context) and skip the gateway's spans.
_TRACE_CONTEXT = frozenset({"traceparent", "tracestate"})
# The encodings the gateway reads, not the caller's: the upstream is asked for what the
# gateway's clients decode (their own "gzip, deflate"), and a caller's br or zstd would come
# back as bytes that neither `http1` nor httpx2 here reads.
_ENCODINGS_ASKED = frozenset({"accept-encoding", "te"})


# What a proxy or mesh in front of the upstream answers when it has no healthy upstream (Envoy's
# 503 "no healthy upstream", a gateway's 502 or 504), or an upstream overloaded: the upstream
# is not there to answer, as /ready's probe counts it, whatever a call's credentials.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})


class UnavailableStatus(Exception):
    """The upstream's address answered one of UNAVAILABLE_STATUSES."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


# The error statuses answered to the requests of the call under way (`error_statuses`): the
# MCP SDK's client turns them all into one error, and only 401 and 403 say the caller's
# credentials were refused. Its transport sends in the caller's context, so the list is seen.
_ERROR_STATUSES: ContextVar[list[int] | None] = ContextVar("upstream_error_statuses", default=None)


@contextmanager
def error_statuses() -> Iterator[list[int]]:
    """The HTTP error statuses the upstream answers within the block (`saw_error_status`)."""
    statuses: list[int] = []
    token = _ERROR_STATUSES.set(statuses)
    try:
        yield statuses
    finally:
        _ERROR_STATUSES.reset(token)


def saw_error_status(status: int) -> None:
    """Raise UnavailableStatus for one of UNAVAILABLE_STATUSES; note any other error status
    for `error_statuses`."""
    if status in UNAVAILABLE_STATUSES:
        raise UnavailableStatus(status)
    if (statuses := _ERROR_STATUSES.get()) is not None:
        statuses.append(status)


class UpstreamConnections:
    """One connection pool per upstream, lent to a new `httpx2.AsyncClient` per call.

    FastMCP's proxy connects a fresh client for every request and closes its HTTP client
    afterwards; by default each brings a new TCP connection and a new TLS context (which
    loads the CA bundle: tens of milliseconds of CPU). The clients `client` builds are
    cheap and carry only their own call's headers (the caller's Authorization among them),
    while the sockets underneath stay open across calls: HTTP/1.1 requests on one
    connection share nothing but the socket, so callers' identities cannot mix.

    The connections go straight to the upstream: unlike a default httpx client, the pool
    takes no proxy from HTTP_PROXY/HTTPS_PROXY/ALL_PROXY.

    Without `pass_authorization` the caller's Authorization stays at the gateway: an OAuth
    access token is for the gateway's audience only, and MCP's authorization specification
    forbids passing it on to another server.
    """

    def __init__(self, *, pass_authorization: bool = True) -> None:
        self._pool = httpx2.AsyncHTTPTransport(limits=_LIMITS)
        self._lent = _Lent(self._pool)
        held = _ENCODINGS_ASKED | (_TRACE_CONTEXT if tracing_enabled() else frozenset())
        # The headers of a call that stay at the gateway.
        self._held = held if pass_authorization else held | {"authorization"}

    def client(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
        **_: object,
    ) -> httpx2.AsyncClient:
        """An HTTP client over the pool: an `McpHttpClientFactory`, called as FastMCP's
        transport calls it (its `follow_redirects` is moot: the SDK decides redirects)."""
        return httpx2.AsyncClient(
            transport=self._lent,
            headers=self._passed(headers),
            timeout=timeout or _TIMEOUT,
            auth=auth,
        )

    def passed(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The caller's `headers` (the ones FastMCP's proxy passes on) that go on to the
        upstream."""
        return self._passed(headers) or {}

    def _passed(self, headers: Mapping[str, str] | None) -> dict[str, str] | None:
        if headers and self._held:
            return {k: v for k, v in headers.items() if k.lower() not in self._held}
        return None if headers is None else dict(headers)

    async def aclose(self) -> None:
        await self._pool.aclose()


class Closable(Protocol):
    async def aclose(self) -> None: ...


@asynccontextmanager
async def closed_after(closables: Iterable[Closable]) -> AsyncIterator[None]:
    """Run the block, then close what it used, in order (connection pools reopen as needed
    if used again)."""
    try:
        yield
    finally:
        for closable in closables:
            await closable.aclose()


class _Lent(httpx2.AsyncBaseTransport):
    """The pool as a client's transport: closing the client leaves the pool open."""

    def __init__(self, pool: httpx2.AsyncHTTPTransport) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._pool.handle_async_request(request)
        if response.status_code >= 400 and request.method == "POST":
            # Not the probes' GETs: /ready reads the status itself.
            try:
                saw_error_status(response.status_code)
            except UnavailableStatus:
                await response.aclose()
                raise
        if response.headers.get("content-length") != "0":
            return response
        # The SDK never reads the empty body of a 202 (the answer to a notification), and a
        # connection closed before its response is read cannot be reused: it would cost a
        # new connection for every session-based call, which sends one.
        await response.aread()
        return httpx2.Response(
            response.status_code, headers=response.headers, extensions=response.extensions
        )

    async def aclose(self) -> None:
        """The pool outlives the client; `UpstreamConnections.aclose` closes it."""
