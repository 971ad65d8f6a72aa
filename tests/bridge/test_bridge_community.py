"""Real community stdio servers behind the bridge, called with FastMCP's and the MCP SDK's
clients in both protocol generations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial

import fastmcp
import mcp
import pytest
from harness.bridge import RunningBridge, StartBridge, start_bridge
from harness.mcp_clients import connect
from mcp_runtime import PACKAGE_VERSION

SESSION_BASED = "2025-11-25"
SESSION_LESS = "2026-07-28"
GENERATIONS = [(True, SESSION_BASED), (False, SESSION_LESS)]


async def _call(
    library: str, url: str, legacy: bool, tool: str, arguments: dict[str, object]
) -> str:
    async with connect(f"{library}-{'legacy' if legacy else 'modern'}", url) as client:
        assert client.protocol_version == (SESSION_BASED if legacy else SESSION_LESS)
        outcome = await client.call(tool, dict(arguments))
        assert not outcome.is_error, outcome.text
        return outcome.text


fastmcp_call = partial(_call, "fastmcp")
sdk_call = partial(_call, "mcp")


CLIENTS = pytest.mark.parametrize("call", [fastmcp_call, sdk_call], ids=["fastmcp", "mcp-sdk"])
EACH_GENERATION = pytest.mark.parametrize(
    ("legacy", "version"), GENERATIONS, ids=["session-based", "session-less"]
)


@pytest.fixture(scope="module")
def time_bridge(
    tmp_path_factory: pytest.TempPathFactory, time_server: list[str]
) -> Iterator[RunningBridge]:
    # Named by the environment, as the chart does; the `everything` tests use `-- COMMAND`.
    env = {"MCP_BRIDGE_COMMAND": json.dumps(time_server)}
    running = start_bridge(tmp_path_factory.mktemp("time"), None, env)
    running.wait_ready()
    yield running
    running.stop()


@CLIENTS
@EACH_GENERATION
async def test_mcp_server_time_answers_each_client_in_each_generation(
    time_bridge: RunningBridge, call, legacy: bool, version: str
) -> None:
    text = await call(time_bridge.mcp_url, legacy, "get_current_time", {"timezone": "Asia/Tokyo"})
    assert json.loads(text)["timezone"] == "Asia/Tokyo"
    converted = json.loads(
        await call(
            time_bridge.mcp_url,
            legacy,
            "convert_time",
            {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Europe/Paris"},
        )
    )
    assert converted["target"]["timezone"] == "Europe/Paris"


async def test_one_child_serves_every_client_session(time_bridge: RunningBridge) -> None:
    for legacy, _ in GENERATIONS:
        for call in (fastmcp_call, sdk_call):
            await call(time_bridge.mcp_url, legacy, "get_current_time", {"timezone": "UTC"})
    assert len(time_bridge.child_pids()) == 1
    assert time_bridge.events("bridge_child_exited") == []


async def test_metrics_have_one_series_per_tool_of_the_child(time_bridge: RunningBridge) -> None:
    before = time_bridge.metric('mcp_tool_calls_total{outcome="ok",tool="get_current_time"}')
    await fastmcp_call(time_bridge.mcp_url, False, "get_current_time", {"timezone": "UTC"})
    after = time_bridge.metric('mcp_tool_calls_total{outcome="ok",tool="get_current_time"}')
    assert after == before + 1
    assert time_bridge.metric('mcp_tool_calls_total{outcome="ok",tool="convert_time"}') >= 0
    assert time_bridge.metric("mcp_bridge_child_up") == 1
    assert time_bridge.metric(f'mcp_build_info{{server="bridge",version="{PACKAGE_VERSION}"}}') == 1


async def test_a_tool_error_of_the_child_reaches_the_client_as_a_tool_error(
    time_bridge: RunningBridge,
) -> None:
    async with fastmcp.Client(time_bridge.mcp_url) as client:
        with pytest.raises(fastmcp.exceptions.ToolError, match="Nowhere/Special"):
            await client.call_tool("get_current_time", {"timezone": "Nowhere/Special"})
    assert time_bridge.metric('mcp_tool_calls_total{outcome="error",tool="get_current_time"}') >= 1


@CLIENTS
@EACH_GENERATION
async def test_server_everything_answers_each_client_in_each_generation(
    bridge: StartBridge, everything_server: list[str], call, legacy: bool, version: str
) -> None:
    running = bridge(everything_server)
    assert await call(running.mcp_url, legacy, "echo", {"message": "hi"}) == "Echo: hi"
    assert "is 5" in await call(running.mcp_url, legacy, "get-sum", {"a": 2, "b": 3})


async def test_server_everything_resources_prompts_and_instructions(
    bridge: StartBridge, everything_server: list[str]
) -> None:
    running = bridge(everything_server, {"MCP_BRIDGE_NAME": "everything"})
    async with fastmcp.Client(running.mcp_url, mode="legacy") as client:
        assert client.initialize_result is not None
        assert client.initialize_result.server_info.name == "everything"
        assert "Everything Server" in (client.initialize_result.instructions or "")
        tools = {tool.name for tool in await client.list_tools()}
        assert {"echo", "get-sum", "get-env"} <= tools
        resources = await client.list_resources()
        assert resources
        contents = await client.read_resource(resources[0].uri)
        assert contents
        prompts = await client.list_prompts()
        assert prompts
    assert running.metric(f'mcp_build_info{{server="everything",version="{PACKAGE_VERSION}"}}') == 1
    assert running.metric('mcp_tool_calls_total{outcome="ok",tool="echo"}') == 0


async def test_stateful_bridge_serves_session_based_clients(
    bridge: StartBridge, everything_server: list[str]
) -> None:
    running = bridge(everything_server, {"MCP_STATELESS": "false"})
    async with mcp.Client(running.mcp_url, mode="legacy") as client:
        for n in range(3):
            result = await client.call_tool("echo", {"message": str(n)})
            assert result.content[0].text == f"Echo: {n}"  # type: ignore[union-attr]
