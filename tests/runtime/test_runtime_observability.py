"""Prometheus series per tool call with bounded labels, and one JSON log event per call."""

from __future__ import annotations

import json

import fastmcp
import httpx
import pytest
from fastmcp.client.transports import StreamableHttpTransport
from harness.processes import ServerProcess
from harness.runtime import StartServer


# A fresh server per module: the counts below must start at zero.
@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerProcess:
    return start_module_server()


async def test_calls_are_counted_by_tool_and_outcome(server: ServerProcess) -> None:
    async with fastmcp.Client(server.mcp_url) as client:
        for text in ("a", "b", "c"):
            await client.call_tool("echo", {"text": text})
        with pytest.raises(fastmcp.exceptions.ToolError):
            await client.call_tool("fail", {"reason": "no"})
    assert server.metric('mcp_tool_calls_total{outcome="ok",tool="echo"}') == 3
    assert server.metric('mcp_tool_calls_total{outcome="error",tool="fail"}') == 1
    assert server.metric('mcp_tool_calls_total{outcome="ok",tool="slow_echo"}') == 0
    assert server.metric('mcp_tool_call_duration_seconds_count{tool="echo"}') == 3
    assert server.metric("mcp_tool_calls_in_flight") == 0
    assert server.metric('mcp_build_info{server="sample",version="0.1.0"}') == 1


def test_server_collectors_are_served_too(server: ServerProcess) -> None:
    before = server.metric("sample_dependency_checks_total")
    assert httpx.get(f"{server.base_url}/ready").status_code == 200
    assert server.metric("sample_dependency_checks_total") == before + 1


UNKNOWN_CALLS = 'mcp_tool_calls_total{outcome="error",tool="unknown"}'


# Session-less (2026-07-28) calls go through the runtime's fast path, which hands unknown
# tools to FastMCP; session-based ones through the SDK's kernel on this stateless server.
@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["session-based", "session-less"])
async def test_unknown_tool_names_share_one_series(server: ServerProcess, mode: str) -> None:
    before = server.metric(UNKNOWN_CALLS)
    async with fastmcp.Client(server.mcp_url, mode=mode) as client:
        for index in range(5):
            with pytest.raises(fastmcp.exceptions.ToolError, match="Unknown tool"):
                await client.call_tool(f"made_up_{mode}_{index}", {})
    text = httpx.get(f"{server.base_url}/metrics").text
    assert "made_up" not in text
    assert server.metric(UNKNOWN_CALLS) == before + 5
    tool_labels = {
        line.split('tool="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("mcp_tool_calls_total{")
    }
    assert tool_labels == {
        "echo",
        "slow_echo",
        "gated_echo",
        "fail",
        "protocol_version",
        "process_id",
        "loaded_modules",
        "unknown",
    }


async def test_each_call_logs_one_json_event_with_the_request_id(server: ServerProcess) -> None:
    transport = StreamableHttpTransport(server.mcp_url, headers={"X-Request-ID": "req-42"})
    async with fastmcp.Client(transport) as client:
        await client.call_tool("echo", {"text": "private words"})
    events = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    calls = [event for event in events if event.get("event") == "tool_call"]
    ours = [event for event in calls if event["request_id"] == "req-42"]
    assert len(ours) == 1
    assert ours[0]["tool"] == "echo"
    assert ours[0]["outcome"] == "ok"
    assert ours[0]["duration_ms"] >= 0
    assert "private words" not in server.log_text()
    assert all(event["request_id"] for event in calls)
