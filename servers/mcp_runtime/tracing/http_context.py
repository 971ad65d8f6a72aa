"""The trace context of a request's HTTP headers, for calls whose `_meta` carries none.

MCP carries trace context in each request's `params._meta` (the OpenTelemetry semantic
conventions for MCP; SEP-414), which is all FastMCP 4.2 reads. A proxy or service mesh in
front of a server puts it in the W3C `traceparent` header instead. This layer attaches the
headers' context, without a span of its own, for the request's duration; FastMCP then
parents its server span on it (it prefers a context already current over `_meta`, both
being the same caller's trace when both are sent). OpenTelemetry's ASGI instrumentation
would add an HTTP span, and with it a valid current span on every request, so FastMCP would
ignore `_meta` even when no header was sent.
"""

from __future__ import annotations

from opentelemetry import context, propagate
from starlette.types import ASGIApp, Receive, Scope, Send

# The headers the W3C propagators (OTEL_PROPAGATORS' default) read, as ASGI spells them.
_CARRIED = (b"traceparent", b"tracestate", b"baggage")


class TraceContextFromHeaders:
    """ASGI middleware: requests with a `traceparent` header run in its trace context."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _CARRIED
        }
        if "traceparent" not in carrier:
            await self._app(scope, receive, send)
            return
        token = context.attach(propagate.extract(carrier))
        try:
            await self._app(scope, receive, send)
        finally:
            context.detach(token)
