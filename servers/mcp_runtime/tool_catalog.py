"""The tools a server advertises, read once at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastmcp import FastMCP


async def install_tool_catalog(mcp: FastMCP) -> frozenset[str]:
    """Let the SDK look tool input schemas up in a table; return the tool names.

    Without the table the SDK validates the `Mcp-Param-*` headers of every session-less
    `tools/call` by running a full `tools/list` through FastMCP first, which costs about
    a third of a trivial call. Tools added after start-up are not in the table: for them
    the SDK skips that header check, as it does for any tool it cannot find.
    """
    tools = await mcp.list_tools()
    schemas: Mapping[str, Mapping[str, Any]] = {
        tool.name: tool.to_mcp_tool().input_schema for tool in tools
    }
    # FastMCP does not expose the low-level server's hook; `_mcp_server` is its only handle.
    mcp._mcp_server.get_tool_input_schema = schemas.get
    return frozenset(schemas)
