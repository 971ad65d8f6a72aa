"""Call a server's tools through each real MCP client and protocol generation the fleet meets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import fastmcp
import mcp

# fastmcp "legacy" and mcp "legacy" speak the session-based 2025-11-25 handshake (what the
# MCP Inspector uses); "auto" negotiates the session-less 2026-07-28 revision.
CLIENTS = ["fastmcp-legacy", "fastmcp-modern", "mcp-legacy", "mcp-modern"]


@dataclass
class ToolOutcome:
    is_error: bool
    data: Any
    text: str


CallTool = Callable[[str, dict[str, Any]], Awaitable[ToolOutcome]]


@dataclass
class Connected:
    tool_names: list[str]
    call: CallTool
    protocol_version: str


@asynccontextmanager
async def connect(kind: str, url: str) -> AsyncIterator[Connected]:
    library, era = kind.split("-")
    mode = "legacy" if era == "legacy" else "auto"
    if library == "fastmcp":
        async with fastmcp.Client(url, mode=mode) as client:

            async def call(name: str, args: dict[str, Any]) -> ToolOutcome:
                result = await client.call_tool(name, args, raise_on_error=False)
                return _outcome(result.is_error, result.structured_content, result.content)

            tools = await client.list_tools()
            yield Connected([t.name for t in tools], call, str(client.protocol_version))
    else:
        async with mcp.Client(url, mode=mode) as client:

            async def call(name: str, args: dict[str, Any]) -> ToolOutcome:
                result = await client.call_tool(name, args)
                return _outcome(result.is_error, result.structured_content, result.content)

            tools = await client.list_tools()
            yield Connected([t.name for t in tools.tools], call, client.protocol_version)


def _outcome(is_error: bool, structured: Any, content: list[Any]) -> ToolOutcome:
    text = " ".join(getattr(block, "text", "") for block in content)
    return ToolOutcome(is_error=is_error, data=structured, text=text)
