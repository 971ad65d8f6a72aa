"""The tools a server advertises, read once at start-up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from fastmcp import FastMCP

from mcp_runtime.internals import lowlevel_server

# Set while the server lists its own tools, which no caller's grants may narrow.
listing_for_the_server: ContextVar[bool] = ContextVar("listing_for_the_server", default=False)


async def install_tool_catalog(mcp: FastMCP) -> frozenset[str]:
    """Make sure the SDK can look tool input schemas up without listing tools; return the
    tool names.

    Without a lookup the SDK validates the `Mcp-Param-*` headers of every session-less
    `tools/call` by running a full `tools/list` through FastMCP first, which costs about
    a third of a trivial call. FastMCP 4.2 answers that lookup from a cache of the tools
    registered on the server itself; tools from other providers (a proxy's, say) enter it
    only with a client's `tools/list`. The table made here from the start-up listing covers
    those until then. A tool the lookup cannot find is not header-checked, as in the SDK.
    """
    own = listing_for_the_server.set(True)
    try:
        tools = await mcp.list_tools()
    finally:
        listing_for_the_server.reset(own)
    schemas: Mapping[str, Mapping[str, Any]] = {
        tool.name: tool.to_mcp_tool().input_schema for tool in tools
    }
    lowlevel = lowlevel_server(mcp)
    current = lowlevel.get_tool_input_schema
    # Called again when a server's tools change (the bridge): replace the table, not stack it.
    fastmcps = current.fastmcps if isinstance(current, _SchemaLookup) else current
    lowlevel.get_tool_input_schema = _SchemaLookup(fastmcps, schemas)
    return frozenset(schemas)


class _SchemaLookup:
    """FastMCP's schema lookup first (it follows tools registered or changed since start-up),
    then the start-up table."""

    def __init__(
        self,
        fastmcps: Callable[[str], Mapping[str, Any] | None] | None,
        schemas: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.fastmcps = fastmcps
        self._schemas = schemas

    def __call__(self, name: str) -> Mapping[str, Any] | None:
        found = self.fastmcps(name) if self.fastmcps is not None else None
        return found if found is not None else self._schemas.get(name)
