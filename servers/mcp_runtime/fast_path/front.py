"""The fast path at the front of the app: a POST to /mcp that it serves skips the layers.

A request to /mcp crosses about ten ASGI layers before the fast path sees it: Starlette's
error handling, the runtime's body limits, drain accounting and `Connection: close`, the
runtime's shortcut to FastMCP's app, then FastMCP's request context, Host/Origin guard,
authentication, exception handling, router and route (with RequireAuth). Each wraps `send`.
`FastFront` sits right inside Starlette's error handling and does, in one place, what those
layers do to a request the fast path serves:

- the Host/Origin check, by FastMCP's own guard built with the same settings, asked for its
  verdict only and kept per Host, Origin, server address and scheme;
- the bearer token, by FastMCP's own authentication backend, and the route's required
  scopes, as RequireAuth checks them; the user and credentials go into the scope as
  AuthenticationMiddleware puts them, and the user into the MCP SDK's auth context;
- the body read under MCP_MAX_REQUEST_BYTES and MCP_BODY_TIMEOUT_SECONDS with the runtime's
  own `RequestLimits` (same 413 and 408 answers);
- the drain: the request counts as in flight until answered, and its answer carries
  `Connection: close` once the drain has begun;
- what FastMCP's request context sets (the transport, the HTTP request for
  `get_http_request`), and the scope keys FastMCP's app and route would set.

A request the guard or the token check would refuse goes through the layers, which refuse it
as before. The front is installed only where nothing else stands between FastMCP's route and
the fast path (no rate limits, no scope step-up) and FastMCP's app holds only the layers
reproduced here. Everything it does not serve, before or after reading the body, goes through
the layers unchanged (a read body is replayed), and there the fast path may still serve it.
"""

from __future__ import annotations

from typing import Any

from fastmcp.server.auth.middleware import RequireAuthMiddleware
from fastmcp.server.context import reset_transport, set_transport
from fastmcp.server.http import (
    HostOriginGuardMiddleware,
    RequestContextMiddleware,
    set_http_request,
)
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from starlette.applications import Starlette
from starlette.authentication import AuthenticationError
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_runtime.asgi_body import read_body, replay
from mcp_runtime.fast_path.endpoint import DECLINED, FastPath
from mcp_runtime.fast_path.kept_answers import KeptAnswers
from mcp_runtime.lifecycle import Lifecycle, closing
from mcp_runtime.request_limits import BoundedBody, RequestLimits, declared_too_large
from mcp_runtime.settings import MCP_PATH

# FastMCP's app layers the front reproduces; any other keeps it off.
_REPRODUCED = (
    RequestContextMiddleware,
    HostOriginGuardMiddleware,
    AuthenticationMiddleware,
    AuthContextMiddleware,
)
# How many Host/Origin combinations the guard's verdicts are kept for.
_VERDICTS = 256


class FastFront:
    """ASGI middleware serving what the fast path takes without the layers behind it."""

    def __init__(
        self,
        app: ASGIApp,
        fast_path: FastPath,
        mcp_app: Starlette,
        route: Route,
        lifecycle: Lifecycle,
        **limits: Any,
    ) -> None:
        self._app = app
        self._fast_path = fast_path
        self._mcp_app = mcp_app
        self._endpoint = route.endpoint
        self._lifecycle = lifecycle
        # The same bounds as the layers' (`limits` are RequestLimits' arguments).
        self._limits = RequestLimits(app, **limits)
        # What FastMCP's request context reads from its app's state.
        self._transport = getattr(mcp_app.state, "transport_type", None)
        self._guard: HostOriginGuardMiddleware | None = None
        self._verdicts: KeptAnswers[tuple[object, ...], bool] = KeptAnswers(_VERDICTS)
        self._authentication: BearerAuthBackend | None = None
        for middleware in mcp_app.user_middleware:
            if middleware.cls is HostOriginGuardMiddleware:
                self._guard = HostOriginGuardMiddleware(
                    _admit, *middleware.args, **middleware.kwargs
                )
            elif middleware.cls is AuthenticationMiddleware:
                self._authentication = middleware.kwargs["backend"]
        required = route.app.required_scopes if isinstance(route.app, RequireAuthMiddleware) else []
        self._required_scopes: list[str] = required

    @staticmethod
    def fits(mcp_app: Starlette, route: Route, fast_path: ASGIApp) -> bool:
        """Whether the front reproduces everything between the app and `fast_path`: FastMCP's
        request context and guard, and its bearer-token authentication with the route's
        RequireAuth, if any."""
        layers = [middleware.cls for middleware in mcp_app.user_middleware]
        authenticated = AuthenticationMiddleware in layers
        if authenticated:
            backend = next(
                m.kwargs.get("backend")
                for m in mcp_app.user_middleware
                if m.cls is AuthenticationMiddleware
            )
            if not (
                type(backend) is BearerAuthBackend
                and AuthContextMiddleware in layers
                and isinstance(route.app, RequireAuthMiddleware)
                and route.app.app is fast_path
            ):
                return False
        elif route.app is not fast_path:
            return False
        return all(layer in _REPRODUCED for layer in layers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["path"] == MCP_PATH
            and self._fast_path.takes(scope)
            and not declared_too_large(scope, self._limits.max_bytes)
            and await self._admitted(scope)
            and await self._authenticated(scope)
        ):
            await self._app(scope, receive, send)
            return
        lifecycle = self._lifecycle
        lifecycle.request_started()
        counted = True
        body = BoundedBody(self._limits, scope, receive, send)
        try:
            received, content = await read_body(body.receive, self._limits.max_bytes)
            replayed = replay(received, receive)
            if content is not None and await self._served(scope, replayed, content, body.send):
                return
            lifecycle.request_finished()
            counted = False
            # The layers bound, count and guard it again, and find the same.
            scope[DECLINED] = True
            await self._app(scope, replayed, send)
        except Exception:
            # Refused while its body arrived: the client has the runtime's answer.
            if not body.refused:
                raise
        finally:
            if counted:
                lifecycle.request_finished()

    async def _admitted(self, scope: Scope) -> bool:
        """The guard's verdict, which depends on the Host and Origin headers, the server's
        address and the scheme alone: asked once per combination (a client sends the same
        ones on every request), and of at most _VERDICTS combinations at a time."""
        if self._guard is None:
            return True
        host = origin = None
        for name, value in scope["headers"]:
            if name == b"host" and host is None:
                host = value
            elif name == b"origin" and origin is None:
                origin = value
        key = (host, origin, scope.get("server"), scope.get("scheme"))
        admitted = self._verdicts.get(key)
        if admitted is None:
            verdict = _Verdict()
            await self._guard(scope, verdict, _discard)
            admitted = self._verdicts.keep(key, verdict.admitted)
        return admitted

    async def _authenticated(self, scope: Scope) -> bool:
        """Whether the request passes FastMCP's authentication and the route's RequireAuth,
        as the SDK's bearer backend and RequireAuth decide; its user and credentials are
        then in the scope, as AuthenticationMiddleware leaves them. A request they would
        refuse goes through the layers, which give the refusal (401, 403 or 400)."""
        if self._authentication is None:
            return True
        try:
            authenticated = await self._authentication.authenticate(HTTPConnection(scope))
        except AuthenticationError:
            return False
        if authenticated is None:
            return False
        credentials, user = authenticated
        if any(scope_ not in credentials.scopes for scope_ in self._required_scopes):
            return False
        scope["auth"] = credentials
        scope["user"] = user
        return True

    async def _served(self, scope: Scope, receive: Receive, body: bytes, send: Send) -> bool:
        scope["app"] = self._mcp_app
        scope["router"] = self._mcp_app.router
        scope["endpoint"] = self._endpoint
        scope["path_params"] = {}
        transport = set_transport(self._transport) if self._transport else None
        user = scope.get("user")
        # What AuthContextMiddleware sets for `get_access_token`.
        auth_context = auth_context_var.set(user) if isinstance(user, AuthenticatedUser) else None
        try:
            with set_http_request(Request(scope)):
                return await self._fast_path.serve(scope, receive, body, _Closing(send, self))
        finally:
            if auth_context is not None:
                auth_context_var.reset(auth_context)
            if transport is not None:
                reset_transport(transport)

    @property
    def draining(self) -> bool:
        return self._lifecycle.draining


class _Verdict:
    """The `receive` the guard is asked with: `_admit` marks it when the guard lets the
    request through (the guard hands `receive` on unchanged)."""

    admitted = False

    async def __call__(self) -> Message:
        raise RuntimeError("the Host/Origin verdict reads no body")


async def _admit(scope: Scope, receive: Receive, send: Send) -> None:
    assert isinstance(receive, _Verdict)
    receive.admitted = True


async def _discard(message: Message) -> None:
    """The guard's refusal goes nowhere: the layers give it."""


class _Closing:
    """`send` adding `Connection: close` to the answer once the drain has begun, as
    `lifecycle.CloseConnectionsWhileDraining` does."""

    __slots__ = ("_front", "_send")

    def __init__(self, send: Send, front: FastFront) -> None:
        self._send = send
        self._front = front

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self._front.draining:
            message = closing(message)
        await self._send(message)
