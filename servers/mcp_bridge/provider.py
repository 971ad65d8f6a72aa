"""The child's tools, resources and prompts as FastMCP components, through FastMCP's proxy."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.server.context import Context
from fastmcp.server.providers.proxy import ProxyProvider, ProxyTool, _CacheEntry
from fastmcp.tools.base import Tool, ToolResult
from mcp.shared.exceptions import MCPError

from mcp_bridge.supervisor import Catalog, Supervisor


class BridgeTool(ProxyTool):
    """FastMCP's ProxyTool, with the bridge's own words for a call the child never answered."""

    _timeout_seconds: float | None = None
    _supervisor: Supervisor | None = None

    async def run(self, arguments: dict[str, Any], context: Context | None = None) -> ToolResult:
        try:
            return await super().run(arguments, context)
        except MCPError as error:
            if error.error.code == mcp_types.REQUEST_TIMEOUT:
                raise ToolError(
                    f"the stdio server did not answer within"
                    f" MCP_BRIDGE_REQUEST_TIMEOUT_SECONDS={self._timeout_seconds:g} s",
                    log_level=logging.WARNING,
                ) from None
            if error.error.code == mcp_types.CONNECTION_CLOSED:
                # The child went away between handing out its client and sending the call.
                reason = self._supervisor.not_ready_reason if self._supervisor else None
                raise ToolError(
                    reason or "the stdio server went away; call again", log_level=logging.WARNING
                ) from None
            raise


class ChildProvider(ProxyProvider):
    """Serves the tools the child listed at its last start (or change) without asking it.

    A tools/list from a client costs no round trip to the child, and still answers while
    the child restarts; resources and prompts go to the child as FastMCP's proxy does.
    """

    def __init__(self, supervisor: Supervisor, request_timeout: float) -> None:
        super().__init__(client_factory=supervisor.client_for_request)
        self._supervisor = supervisor
        self._request_timeout = request_timeout
        self._tools: Sequence[Tool] = ()

    async def use_catalog(self, catalog: Catalog) -> None:
        tools = []
        for listed in catalog.tools:
            tool = BridgeTool.from_mcp_tool(self._supervisor.client_for_call, listed)
            tool._timeout_seconds = self._request_timeout
            tool._supervisor = self._supervisor
            tools.append(tool)
        self._tools = tuple(tools)
        self._tools_cache = None

    async def _list_tools(self) -> Sequence[Tool]:
        # The base class looks single tools up in this cache; keep it on the catalog.
        self._tools_cache = _CacheEntry(self._tools, time.monotonic())
        return self._tools
