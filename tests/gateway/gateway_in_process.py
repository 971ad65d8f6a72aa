"""A gateway served in process (its fast path on, counting what it serves) in front of
real upstreams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from harness.in_process import Served, served_in_process
from harness.processes import ServerProcess
from mcp_gateway.server import create
from mcp_gateway.settings import GatewaySettings
from mcp_runtime import build_app
from wrapped_upstream import WrappedUpstream


@asynccontextmanager
async def in_process_gateway(
    upstreams: Mapping[str, ServerProcess | WrappedUpstream], **policy: object
) -> AsyncIterator[Served]:
    """A gateway of `upstreams`, its upstreams' tools listed and known to the fast path;
    `policy` is more of each upstream's settings (`timeout_seconds=...`)."""
    settings = GatewaySettings(
        mcp_gateway_servers=json.dumps(
            {
                name: {"url": f"{server.base_url}/mcp", **policy}
                for name, server in upstreams.items()
            }
        )
    )
    gateway = create(settings)
    app = build_app(gateway.spec, settings)
    gateway.attach(app)
    async with served_in_process(app, gateway.spec.mcp) as served:
        await gateway.spec.mcp.list_tools()
        await served.fast_path._calls.resolve_tools()
        yield served
