"""Serve only the tools the ConfigMap's server-config.json lists under `tools`."""

from __future__ import annotations

from fastmcp import FastMCP

from mcp_runtime.settings import RuntimeSettings, SettingsLoadError


def configured_tools(settings: RuntimeSettings) -> frozenset[str]:
    """The tool names `tools` lists in MCP_SERVER_CONFIG; empty means every tool."""
    tools = settings.server_config().get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(name, str) for name in tools):
        raise SettingsLoadError("MCP_SERVER_CONFIG: tools must be a list of tool names")
    return frozenset(tools)


async def select_tools(mcp: FastMCP, settings: RuntimeSettings) -> None:
    """Disable the tools the config does not list; raise naming any it lists but `mcp` lacks."""
    wanted = configured_tools(settings)
    if not wanted:
        return
    available = {tool.name for tool in await mcp.list_tools(run_middleware=False)}
    if unknown := sorted(wanted - available):
        raise SettingsLoadError(
            f"MCP_SERVER_CONFIG: tools: unknown tool {', '.join(unknown)}; "
            f"valid tools: {', '.join(sorted(available))}"
        )
    if unwanted := available - wanted:
        mcp.disable(names=unwanted, components={"tool"})
