"""Build the gateway: one FastMCP server with one namespaced proxy provider per upstream."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial

from fastmcp import FastMCP
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.server import create_proxy
from mcp_runtime.app import PACKAGE_VERSION, ServerSpec, lifecycle_of
from mcp_runtime.metrics import ToolMetrics
from starlette.applications import Starlette

from mcp_gateway.connections import Closable, UpstreamConnections, closed_after
from mcp_gateway.health import UpstreamHealth
from mcp_gateway.readiness import DiscoverTools
from mcp_gateway.settings import GatewaySettings
from mcp_gateway.upstream import UpstreamProvider
from mcp_gateway.upstream_calls import UpstreamCallMetrics, UpstreamCalls

# What FastMCP puts between a provider's namespace and a tool or prompt name.
SEPARATOR = "_"


@dataclass
class Gateway:
    spec: ServerSpec
    health: UpstreamHealth
    # What holds connections to the upstreams, in the order it is closed: the relays' (each
    # provider's), then the pools under FastMCP's clients.
    closables: list[Closable] = field(default_factory=list)
    _metrics: ToolMetrics | None = field(default=None, init=False)
    _tools: dict[str, frozenset[str]] = field(default_factory=dict, init=False)

    def attach(self, app: Starlette) -> None:
        """Let the app's tool metrics follow the upstreams' tools as they are listed, and
        /ready list them while none is known (DiscoverTools)."""
        self._metrics = app.state.metrics
        self._register()
        app.add_middleware(
            DiscoverTools,
            lifecycle=lifecycle_of(app),
            metrics=self._metrics,
            discover=self.spec.mcp.list_tools,
        )

    def tools_seen(self, upstream: str, tools: frozenset[str]) -> None:
        if self._tools.get(upstream) == tools:
            return
        self._tools[upstream] = tools
        self._register()

    def _register(self) -> None:
        # An upstream down at start, or listing only for a caller's token, adds its tools
        # when it first lists them; until then they count as `unknown`, and /ready waits for
        # at least one.
        if self._metrics is not None:
            self._metrics.register_tools(
                f"{name}{SEPARATOR}{tool}" for name, names in self._tools.items() for tool in names
            )


def create(settings: GatewaySettings) -> Gateway:
    mcp = FastMCP("gateway", version=PACKAGE_VERSION)
    # A shared token is the upstreams' as well; an OAuth token is the gateway's alone.
    pass_authorization = not settings.jwt_enabled
    connections = {
        name: UpstreamConnections(pass_authorization=pass_authorization)
        for name in settings.mcp_gateway_servers
    }
    health = UpstreamHealth(settings.mcp_gateway_servers, connections)
    call_metrics = UpstreamCallMetrics(health.registry)
    calls = {
        name: UpstreamCalls(name, upstream, health.record, call_metrics)
        for name, upstream in settings.mcp_gateway_servers.items()
    }
    closables: list[Closable] = []
    spec = ServerSpec(
        mcp=mcp,
        readiness_checks=[health.upstreams_answer, partial(open_circuits, calls)],
        # The runtime leaves the lifespan after the drain, once the last call is answered.
        lifespan=partial(closed_after, closables),
        collectors=[health.registry],
    )
    gateway = Gateway(spec=spec, health=health, closables=closables)
    providers: list[UpstreamProvider] = []
    for name, upstream in settings.mcp_gateway_servers.items():
        # FastMCP's proxy client for a transport: a fresh client per request, in the front
        # request's protocol generation, forwarding the caller's headers (Authorization
        # included) and no credentials of the gateway's own; its HTTP clients borrow the
        # upstream's pooled connections instead of opening their own.
        transport = StreamableHttpTransport(
            str(upstream.url), httpx_client_factory=connections[name].client
        )
        factory = create_proxy(transport, name=name).client_factory
        provider = UpstreamProvider(
            name,
            upstream,
            factory,
            connections[name],
            gateway.tools_seen,
            health.record,
            calls[name],
            relay_every_generation=settings.mcp_stateless,
        )
        # The namespace is the upstream's name: `todo` + `create_task` = `todo_create_task`.
        # Names are unique keys of MCP_GATEWAY_SERVERS and hold no "_", so no two
        # upstreams can claim one tool name.
        mcp.add_provider(provider, namespace=name)
        providers.append(provider)
    closables.extend([*providers, *connections.values()])
    # The runtime's fast path relays calls of their tools (mcp_runtime.tool_relay).
    gateway.spec = replace(spec, tool_relays=tuple(providers))
    return gateway


async def open_circuits(calls: dict[str, UpstreamCalls]) -> str | None:
    """A readiness note naming the upstreams whose calls fail at once for now."""
    left = {name: seconds for name, each in calls.items() if (seconds := each.open_for())}
    if not left:
        return None
    named = ", ".join(f"{name} (tried again in {left[name]:.0f} s)" for name in sorted(left))
    return f"circuits open: {named}"
