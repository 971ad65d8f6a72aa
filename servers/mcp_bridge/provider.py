"""The child's tools, resources and prompts as FastMCP components, through FastMCP's proxy."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.server.context import Context
from fastmcp.server.providers.proxy import ProxyProvider, ProxyTool, _CacheEntry
from fastmcp.tools.base import Tool, ToolResult
from mcp.shared.exceptions import MCPError
from mcp_runtime.tool_relay import tool_call_params

from mcp_bridge.supervisor import Catalog, Supervisor


class ChildErrors:
    """The bridge's own words for a call the child never answered.

    The SDK reports those with error codes a server may send as well (-32000 is JSON-RPC's
    generic server error): one the child sent is passed on as the child's.
    """

    def __init__(self, supervisor: Supervisor, timeout_seconds: float) -> None:
        self._supervisor = supervisor
        self._timeout_seconds = timeout_seconds

    @contextmanager
    def told(self) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        except MCPError as error:
            code = error.error.code
            if (
                code == mcp_types.REQUEST_TIMEOUT
                and time.monotonic() - started >= self._timeout_seconds
            ):
                raise ToolError(
                    f"the stdio server did not answer within"
                    f" MCP_BRIDGE_REQUEST_TIMEOUT_SECONDS={self._timeout_seconds:g} s",
                    log_level=logging.WARNING,
                ) from None
            # The child went away between handing out its client and sending the call; the
            # supervisor knows by the time the session is closed.
            reason = self._supervisor.not_ready_reason
            if code == mcp_types.CONNECTION_CLOSED and reason is not None:
                raise ToolError(reason, log_level=logging.WARNING) from None
            raise


class BridgeTool(ProxyTool):
    """FastMCP's ProxyTool, with the bridge's own words for a call the child never answered."""

    _errors: ChildErrors | None = None

    async def run(self, arguments: dict[str, Any], context: Context | None = None) -> ToolResult:
        assert self._errors is not None
        with self._errors.told():
            return await super().run(arguments, context)


class ChildProvider(ProxyProvider):
    """Serves the tools the child listed at its last start (or change) without asking it.

    A tools/list from a client costs no round trip to the child, and still answers while
    the child restarts; resources and prompts go to the child as FastMCP's proxy does.

    It is the server's tool relay (`mcp_runtime.tool_relay`): on the runtime's fast path a
    call of one of its tools goes to `relay`, which sends the child the request
    `ProxyTool.run` would send, on the child's pipes beside the session (`ChildPipes.request`).
    """

    def __init__(self, supervisor: Supervisor, request_timeout: float) -> None:
        super().__init__(client_factory=supervisor.client_for_request)
        self._supervisor = supervisor
        self._errors = ChildErrors(supervisor, request_timeout)
        self._request_timeout = request_timeout
        # The child's, from its initialize result; its tools come with it.
        self._protocol_version = ""
        self._tools: Mapping[str, Tool] = MappingProxyType({})

    @property
    def relayed_tools(self) -> Mapping[str, Tool]:
        return self._tools

    async def use_catalog(self, catalog: Catalog) -> None:
        tools = {}
        for listed in catalog.tools:
            tool = BridgeTool.from_mcp_tool(self._supervisor.client_for_call, listed)
            tool._errors = self._errors
            tools[tool.name] = tool
        self._tools = MappingProxyType(tools)
        self._tools_cache = None
        self._protocol_version = catalog.initialize.protocol_version

    async def _list_tools(self) -> Sequence[Tool]:
        tools = tuple(self._tools.values())
        # The base class looks single tools up in this cache; keep it on the catalog.
        self._tools_cache = _CacheEntry(tools, time.monotonic())
        return tools

    def relays_for(self, protocol_version: str) -> bool:
        # The child's one session serves clients of every version, as FastMCP's proxy does.
        return True

    async def relay(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        # Only the fast path calls this, and the fast path's modules load only when it runs.
        from mcp_runtime.fast_path.private_api import client_session_result

        pipes = self._supervisor.pipes_for_call()
        with self._errors.told():
            received = await pipes.request(
                "tools/call", tool_call_params(name, arguments, meta), self._request_timeout
            )
        return client_session_result("tools/call", self._protocol_version, received)
