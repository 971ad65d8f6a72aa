"""Assemble one server's ASGI app: /mcp plus probes, metrics and the server's own routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from fastmcp import FastMCP
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.auth import BearerProtected, verifier_from_settings
from mcp_runtime.client_gone import CancelledWhenClientLeaves
from mcp_runtime.deferred_model_builds import build_served_wire_models
from mcp_runtime.docstrings import read_plain_docstrings_without_griffe
from mcp_runtime.fast_path_gate import fast_front_for, fast_path_for
from mcp_runtime.host_guard import HostOriginGuarded
from mcp_runtime.internals import lowlevel_server
from mcp_runtime.lifecycle import CloseConnectionsWhileDraining, InFlightRequests, Lifecycle
from mcp_runtime.mcp_route import mcp_route
from mcp_runtime.metrics import ToolMetrics
from mcp_runtime.metrics_port import MetricsOnItsOwnPort
from mcp_runtime.operation_metrics import OperationMetrics
from mcp_runtime.probes import PROBE_PATHS, ReadinessCheck, probe_routes
from mcp_runtime.rate_limits import RateLimited
from mcp_runtime.request_ids import RequestIdGuard
from mcp_runtime.request_limits import RequestLimits, align_sdk_body_limit
from mcp_runtime.request_state_keys import seal_request_state_with
from mcp_runtime.scope_step_up import ScopeStepUp
from mcp_runtime.sessions import SessionLimitAnswer, count_sessions, limit_sessions
from mcp_runtime.settings import MCP_PATH, RuntimeSettings
from mcp_runtime.tool_catalog import install_tool_catalog
from mcp_runtime.tool_events import ToolCallEvents, ToolCallObserver
from mcp_runtime.tool_grants import ToolAuthorization, ToolGrants
from mcp_runtime.tool_relay import ToolRelay
from mcp_runtime.tracing import tracing_enabled


def _distribution_version() -> str:
    try:
        return version("mcp-servers")
    except PackageNotFoundError:
        return "0.0.0"


# What the fleet's servers report as serverInfo.version: FastMCP("name", version=PACKAGE_VERSION).
PACKAGE_VERSION = _distribution_version()

# Here, because a server imports this module (for PACKAGE_VERSION, ServerSpec or `run`)
# before it registers its tools.
read_plain_docstrings_without_griffe()


@dataclass(frozen=True)
class ServerSpec:
    """Everything the runtime needs to serve one MCP server.

    `lifespan` opens what the tools and checks share (pools, models) before the first
    request and closes it after the last; `readiness_checks` raise when a dependency
    is unreachable; `routes` are extra plain-HTTP routes without auth, and
    `protected_routes` extra HTTP routes that need the same bearer token or JWT as /mcp
    when auth is configured; both get the same Host/Origin check as /mcp; `collectors`
    are the server's own Prometheus collectors (a CollectorRegistry is one), served on
    /metrics next to the runtime's; `tool_relays` are providers of `mcp` whose tools run in
    another process, which the fast path may call directly (see tool_relay.py), in the
    order they were added to `mcp`.
    """

    mcp: FastMCP
    readiness_checks: Sequence[ReadinessCheck] = ()
    routes: Sequence[BaseRoute] = ()
    protected_routes: Sequence[BaseRoute] = ()
    lifespan: Callable[[], AbstractAsyncContextManager[object]] | None = None
    collectors: Sequence[Collector] = ()
    tool_relays: Sequence[ToolRelay] = ()


def build_app(spec: ServerSpec, settings: RuntimeSettings) -> Starlette:
    """The Starlette app serving `spec` as `settings` describe. Call once per server."""
    lifecycle = Lifecycle()
    metrics = ToolMetrics(server=spec.mcp.name, version=PACKAGE_VERSION)
    for collector in spec.collectors:
        metrics.add_collector(collector)
    events = ToolCallEvents(metrics)
    spec.mcp.add_middleware(ToolCallObserver(events))
    # Outermost in the SDK's chain: it times everything FastMCP does for a message.
    lowlevel_server(spec.mcp).middleware.insert(0, OperationMetrics(metrics))
    if settings.mcp_request_state_keys:
        keys = [key.get_secret_value() for key in settings.mcp_request_state_keys]
        seal_request_state_with(spec.mcp, keys)
    authorization = _tool_authorization(settings, metrics)
    if authorization is not None:
        # After the observer, so that a refused call is counted and logged as a failed call.
        spec.mcp.add_middleware(authorization)
    verifier = verifier_from_settings(
        settings,
        grant_names=authorization.grants.names
        if authorization is not None and authorization.grants.claim == "scope"
        else (),
    )
    protected_routes = list(spec.protected_routes)
    if verifier is not None:
        spec.mcp.auth = verifier
        protected_routes = [
            BearerProtected(route, verifier, spec.mcp, authorization) for route in protected_routes
        ]
    # A browser tricked by DNS rebinding must not reach these routes any more than /mcp.
    extra_routes = [
        HostOriginGuarded(route, settings.mcp_allowed_hosts, settings.mcp_allowed_origins)
        for route in [*spec.routes, *protected_routes]
    ]
    mcp_app = spec.mcp.http_app(
        path=MCP_PATH,
        # Plain JSON responses survive shutdown for session-based clients (SSE
        # responses are cut) and cost less per call than an event stream.
        json_response=True,
        stateless_http=settings.mcp_stateless,
        host_origin_protection=True,
        allowed_hosts=list(settings.mcp_allowed_hosts),
        allowed_origins=list(settings.mcp_allowed_origins),
        session_idle_timeout=settings.mcp_session_idle_timeout_seconds,
    )
    route = mcp_route(mcp_app, MCP_PATH)
    # Layers in front of the SDK's endpoint, so that what the fast path hands on gets them too.
    endpoint: ASGIApp = CancelledWhenClientLeaves(RequestIdGuard(route.endpoint))
    if not settings.mcp_stateless:
        endpoint = SessionLimitAnswer(endpoint, settings.mcp_max_sessions)
    # Hot requests skip the SDK's per-request transports, on verified versions only.
    fast_path = fast_path_for(
        settings, endpoint, route.endpoint, spec.mcp, events, spec.tool_relays, authorization
    )
    served: ASGIApp = fast_path or endpoint
    if authorization is not None and authorization.grants.claim == "scope":
        served = ScopeStepUp(
            served,
            spec.mcp,
            authorization,
            settings.mcp_jwt_required_scopes,
            None if route.auth is None else _text(route.auth.resource_metadata_url),
            settings.mcp_max_request_bytes,
        )
    # Behind authentication (serve_with), so that callers are known by their tokens.
    route.serve_with(RateLimited.wrapping(served, settings, metrics))
    count_sessions(metrics.registry, route.endpoint)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if spec.lifespan is not None:
                await stack.enter_async_context(spec.lifespan())
            await stack.enter_async_context(mcp_app.lifespan(mcp_app))
            # FastMCP has just created the SDK's session manager, with the SDK's defaults.
            align_sdk_body_limit(route.endpoint, settings.mcp_max_request_bytes)
            limit_sessions(route.endpoint, settings.mcp_max_sessions)
            tool_names = await install_tool_catalog(spec.mcp)
            metrics.register_tools(tool_names)
            if authorization is not None:
                authorization.register_tools(tool_names)
            if fast_path is not None:
                await fast_path.start()
            lifecycle.started = True
            yield

    limits = {
        "max_bytes": settings.mcp_max_request_bytes,
        "body_timeout": settings.mcp_body_timeout_seconds,
        "deadlines": lifecycle.body_deadlines,
        "jsonrpc_path": MCP_PATH,
    }
    # What the fast path serves skips the layers below, doing what they would in one place.
    front = fast_front_for(fast_path, mcp_app, route.route, lifecycle, **limits)
    app = Starlette(
        routes=[
            *probe_routes(lifecycle, metrics, spec.readiness_checks),
            *extra_routes,
            Mount("/", app=mcp_app),
        ],
        middleware=[
            *(
                []
                if settings.mcp_metrics_port is None
                else [Middleware(MetricsOnItsOwnPort, port=settings.mcp_metrics_port)]
            ),
            *([] if front is None else [front]),
            # Before anything reads a body, so that none is buffered past the limits.
            Middleware(RequestLimits, **limits),
            # Every request but probes and notification streams holds the SIGTERM drain open.
            Middleware(InFlightRequests, lifecycle=lifecycle, untracked=_untracked),
            Middleware(CloseConnectionsWhileDraining, lifecycle=lifecycle),
            Middleware(McpPathFirst, mcp_app=mcp_app),
        ],
        lifespan=lifespan,
    )
    if tracing_enabled():
        from mcp_runtime.tracing.http_context import TraceContextFromHeaders

        # Outermost, so that every line logged for the request carries its trace.
        app.add_middleware(TraceContextFromHeaders)
    # Here rather than in the lifespan: workers fork after this and share them.
    build_served_wire_models()
    app.state.lifecycle = lifecycle
    app.state.server_name = spec.mcp.name
    app.state.metrics = metrics
    app.state.fast_path = fast_path
    return app


def _text(value: object | None) -> str | None:
    return None if value is None else str(value)


def _tool_authorization(
    settings: RuntimeSettings, metrics: ToolMetrics
) -> ToolAuthorization | None:
    if settings.mcp_tool_grants is None:
        return None
    return ToolAuthorization(
        ToolGrants(settings.mcp_tool_grants, settings.mcp_tool_grants_claim), metrics
    )


class McpPathFirst:
    """Hands requests for the MCP path straight to FastMCP's app.

    The router would get there too, after trying every probe and extra route and the
    catch-all mount, which costs a noticeable share of a trivial tool call.
    """

    def __init__(self, app: ASGIApp, mcp_app: ASGIApp) -> None:
        self._app = app
        self._mcp_app = mcp_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == MCP_PATH:
            await self._mcp_app(scope, receive, send)
        else:
            await self._app(scope, receive, send)


def _untracked(scope: Scope) -> bool:
    path: str = scope["path"]
    if path in PROBE_PATHS:
        return True
    # GET on /mcp opens a notification stream that never finishes by itself.
    return scope["method"] == "GET" and (path == MCP_PATH or path.startswith(f"{MCP_PATH}/"))


def lifecycle_of(app: Starlette) -> Lifecycle:
    lifecycle: Lifecycle = app.state.lifecycle
    return lifecycle
