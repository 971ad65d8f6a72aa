"""Build the gateway: one FastMCP server with one namespaced proxy provider per upstream."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastmcp import FastMCP
from fastmcp.server import create_proxy
from mcp_runtime.app import PACKAGE_VERSION, ServerSpec
from mcp_runtime.metrics import ToolMetrics
from starlette.applications import Starlette

from mcp_gateway.health import UpstreamHealth
from mcp_gateway.settings import GatewaySettings
from mcp_gateway.upstream import UpstreamProvider

# What FastMCP puts between a provider's namespace and a tool or prompt name.
SEPARATOR = "_"


@dataclass
class Gateway:
    spec: ServerSpec
    health: UpstreamHealth
    _metrics: ToolMetrics | None = field(default=None, init=False)
    _tools: dict[str, frozenset[str]] = field(default_factory=dict, init=False)

    def attach(self, app: Starlette) -> None:
        """Let the app's tool metrics follow the upstreams' tools as they are listed."""
        self._metrics = app.state.metrics

    def tools_seen(self, upstream: str, tools: frozenset[str]) -> None:
        if self._tools.get(upstream) == tools:
            return
        self._tools[upstream] = tools
        if self._metrics is not None:
            # An upstream down at start, or listing only for a caller's token, adds its
            # tools when it first lists them; until then they count as `unknown`, and
            # /ready waits for at least one.
            self._metrics.register_tools(
                f"{name}{SEPARATOR}{tool}" for name, names in self._tools.items() for tool in names
            )


def create(settings: GatewaySettings) -> Gateway:
    mcp = FastMCP("gateway", version=PACKAGE_VERSION)
    health = UpstreamHealth(settings.mcp_gateway_servers)
    spec = ServerSpec(
        mcp=mcp,
        readiness_checks=[health.upstreams_answer],
        collectors=[health.registry],
    )
    gateway = Gateway(spec=spec, health=health)
    for name, upstream in settings.mcp_gateway_servers.items():
        # create_proxy's client factory is FastMCP's default proxy client: a fresh session
        # per request in the front request's protocol generation, the caller's headers
        # (Authorization included) forwarded, and no credentials of the gateway's own.
        factory = create_proxy(str(upstream.url), name=name).client_factory
        provider = UpstreamProvider(name, upstream, factory, gateway.tools_seen, health.record)
        # The namespace is the upstream's name: `todo` + `create_task` = `todo_create_task`.
        # Names are unique keys of MCP_GATEWAY_SERVERS and hold no "_", so no two
        # upstreams can claim one tool name.
        mcp.add_provider(provider, namespace=name)
    return gateway
