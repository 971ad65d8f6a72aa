"""Both protocol generations, with FastMCP's and the official SDK's clients, stateless or not."""

from __future__ import annotations

import json
from importlib.metadata import version

import fastmcp
import mcp
import pytest
from harness.processes import ServerProcess
from harness.runtime import StartServer
from mcp_types import TextContent

SESSION_BASED = "2025-11-25"
SESSION_LESS = "2026-07-28"


async def fastmcp_call(url: str, legacy: bool, tool: str, arguments: dict[str, object]) -> str:
    kwargs = {"mode": "legacy"} if legacy else {}
    async with fastmcp.Client(url, **kwargs) as client:
        result = await client.call_tool(tool, arguments)
        return str(result.data)


async def sdk_call(url: str, legacy: bool, tool: str, arguments: dict[str, object]) -> str:
    async with mcp.Client(url, mode="legacy" if legacy else "auto") as client:
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result
        content = result.content[0]
        assert isinstance(content, TextContent)
        return content.text


CLIENTS = [fastmcp_call, sdk_call]


@pytest.mark.parametrize("call", CLIENTS, ids=["fastmcp", "mcp-sdk"])
@pytest.mark.parametrize(
    ("legacy", "expected_version"),
    [(True, SESSION_BASED), (False, SESSION_LESS)],
    ids=["session-based", "session-less"],
)
async def test_each_client_speaks_each_generation_to_a_stateless_server(
    sample_server: ServerProcess, call, legacy: bool, expected_version: str
) -> None:
    assert await call(sample_server.mcp_url, legacy, "protocol_version", {}) == expected_version
    assert await call(sample_server.mcp_url, legacy, "echo", {"text": "hi"}) == "hi"


async def test_stateful_server_serves_both_generations(start_server: StartServer) -> None:
    server = start_server(env={"MCP_STATELESS": "false"})
    for call in CLIENTS:
        assert await call(server.mcp_url, True, "protocol_version", {}) == SESSION_BASED
        assert await call(server.mcp_url, False, "protocol_version", {}) == SESSION_LESS


async def test_tool_error_reaches_the_client_as_a_tool_error(sample_server: ServerProcess) -> None:
    async with fastmcp.Client(sample_server.mcp_url) as client:
        with pytest.raises(fastmcp.exceptions.ToolError, match="disk on fire"):
            await client.call_tool("fail", {"reason": "disk on fire"})


async def test_server_info_reports_the_project_version(sample_server: ServerProcess) -> None:
    async with fastmcp.Client(sample_server.mcp_url, mode="legacy") as client:
        assert client.initialize_result is not None
        server_info = client.initialize_result.server_info
    assert (server_info.name, server_info.version) == ("sample", version("mcp-servers"))
    assert server_info.version != fastmcp.__version__


@pytest.mark.parametrize(
    ("library", "legacy"),
    [("fastmcp", True), ("fastmcp", False), ("mcp", True), ("mcp", False)],
    ids=["fastmcp-session-based", "fastmcp-session-less", "mcp-session-based", "mcp-session-less"],
)
async def test_bad_calls_reach_real_clients_as_tool_errors(
    sample_server: ServerProcess, library: str, legacy: bool
) -> None:
    calls = [("echo", {"text": ["not", "text"]}), ("no_such_tool", {}), ("fail", {"reason": "r"})]
    if library == "fastmcp":
        async with fastmcp.Client(sample_server.mcp_url, mode="legacy" if legacy else "auto") as c:
            results = [await c.call_tool(name, args, raise_on_error=False) for name, args in calls]
    else:
        async with mcp.Client(sample_server.mcp_url, mode="legacy" if legacy else "auto") as c:
            results = [await c.call_tool(name, args) for name, args in calls]
    texts = []
    for result in results:
        assert result.is_error
        content = result.content[0]
        assert isinstance(content, TextContent)
        texts.append(content.text)
    assert "Input should be a valid string" in texts[0]
    assert texts[1:] == ["Unknown tool: 'no_such_tool'", "r"]


def test_the_runtime_serves_calls_on_its_fast_path(sample_server: ServerProcess) -> None:
    events = [json.loads(line) for line in sample_server.log_text().splitlines() if line[:1] == "{"]
    enabled = [event for event in events if event["event"].startswith("fast_path")]
    assert [(event["event"], event.get("tools")) for event in enabled] == [("fast_path_enabled", 8)]
