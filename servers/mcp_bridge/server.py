"""Build the bridge: a FastMCP server whose components are the child's, on the runtime."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
from fastmcp import FastMCP
from mcp_runtime.app import PACKAGE_VERSION, ServerSpec, lifecycle_of
from mcp_runtime.metrics import ToolMetrics
from mcp_runtime.tool_catalog import install_tool_catalog
from mcp_runtime.tool_selection import select_tools
from starlette.applications import Starlette

from mcp_bridge import reaper
from mcp_bridge.command import ChildCommand, child_environment
from mcp_bridge.metrics import BridgeMetrics
from mcp_bridge.provider import ChildProvider
from mcp_bridge.readiness import ChildReadiness, stdio_server_check
from mcp_bridge.settings import BridgeSettings
from mcp_bridge.supervisor import Catalog, Supervisor

# Orphans of the child that die while it runs are collected this often.
_REAP_SECONDS = 2.0


@dataclass
class Bridge:
    spec: ServerSpec
    supervisor: Supervisor
    settings: BridgeSettings
    _metrics: ToolMetrics | None = field(default=None, init=False)
    _tools_selected: bool = field(default=False, init=False)

    def attach(self, app: Starlette) -> None:
        """Wire the app `build_app` made from `spec`: its tool metrics follow the child's
        tools, and /ready gives the child's reason before any tool is known."""
        self._metrics = app.state.metrics
        app.add_middleware(
            ChildReadiness,
            supervisor=self.supervisor,
            lifecycle=lifecycle_of(app),
            metrics=self._metrics,
        )

    async def use_catalog(self, catalog: Catalog) -> None:
        mcp = self.spec.mcp
        # The child's guidance for the model reaches clients in the initialize result.
        mcp.instructions = catalog.initialize.instructions
        if not self._tools_selected:
            # MCP_SERVER_CONFIG's `tools`, checked against the first tools the child lists
            # (the runtime checks them at start, before a bridge knows any).
            await select_tools(mcp, self.settings)
            self._tools_selected = True
        if self._metrics is not None:
            self._metrics.register_tools(await install_tool_catalog(mcp))


def create(settings: BridgeSettings, command: ChildCommand) -> Bridge:
    bridge_metrics = BridgeMetrics()
    supervisor = Supervisor(command, child_environment(os.environ), settings, bridge_metrics)
    provider = ChildProvider(supervisor, settings.mcp_bridge_request_timeout_seconds)
    mcp = FastMCP(settings.mcp_bridge_name, version=PACKAGE_VERSION)
    mcp.add_provider(provider)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        # The child starts in the background: /health answers at once, /ready once the
        # child has answered. It is stopped after the drain, when the runtime leaves this.
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(supervisor.run)
            tasks.start_soon(_reap_orphans)
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await supervisor.stop()
                    reaper.reap_orphans()
                tasks.cancel_scope.cancel()

    spec = ServerSpec(
        mcp=mcp,
        readiness_checks=[stdio_server_check(supervisor)],
        lifespan=lifespan,
        collectors=[bridge_metrics.registry],
        tool_relays=(provider,),
    )
    bridge = Bridge(spec=spec, supervisor=supervisor, settings=settings)
    supervisor.on_catalog(provider.use_catalog)
    supervisor.on_catalog(bridge.use_catalog)
    return bridge


async def _reap_orphans() -> None:
    while True:
        await anyio.sleep(_REAP_SECONDS)
        reaper.reap_orphans()
