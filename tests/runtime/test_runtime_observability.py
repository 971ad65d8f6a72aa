"""Prometheus series per tool call with bounded labels, and one JSON log event per call."""

from __future__ import annotations

import json
import re

import fastmcp
import httpx
import pytest
from fastmcp.client.transports import StreamableHttpTransport
from harness.jsonrpc import modern_request
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
        "confirmed",
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
    async with fastmcp.Client(server.mcp_url) as client:
        for _ in range(2):
            await client.call_tool("echo", {"text": "no request id sent"})
    events = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    calls = [event for event in events if event.get("event") == "tool_call"]
    ours = [event for event in calls if event["request_id"] == "req-42"]
    assert len(ours) == 1
    assert ours[0]["tool"] == "echo"
    assert ours[0]["outcome"] == "ok"
    assert ours[0]["duration_ms"] >= 0
    assert "private words" not in server.log_text()
    assert all(event["request_id"] for event in calls)
    # Without an X-Request-ID each call gets a fresh id of its own: 16 random bytes in hex.
    fresh = [event["request_id"] for event in calls[-2:]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in fresh), fresh
    assert fresh[0] != fresh[1]
    # Without auth there is no caller to name.
    assert not any("client_id" in event or "subject" in event for event in calls)


def operations(server: ServerProcess, method: str, outcome: str) -> float:
    return server.metric(
        "mcp_server_operation_duration_seconds_count"
        f'{{mcp_method_name="{method}",outcome="{outcome}"}}'
    )


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "fastmcp"])
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_every_mcp_method_is_timed_by_outcome_with_bounded_names(
    start_server: StartServer, fast_path: bool, mode: str
) -> None:
    server = start_server(env={"MCP_FAST_PATH": str(fast_path).lower()})
    async with fastmcp.Client(server.mcp_url, mode=mode) as client:  # type: ignore[arg-type]
        if mode == "legacy":
            await client.ping()
        else:
            # 2026-07-28 has no ping: Method not found, an error of method `ping`.
            with pytest.raises(Exception):  # noqa: B017
                await client.ping()
        await client.list_tools()
        await client.list_tools()
        await client.list_resources()
        await client.call_tool("echo", {"text": "x"})
        # A tool's failure is the tool's error, not the protocol's.
        with pytest.raises(fastmcp.exceptions.ToolError):
            await client.call_tool("fail", {"reason": "no"})
        with pytest.raises(Exception):  # noqa: B017 - the prompt does not exist
            await client.get_prompt("missing")
    assert operations(server, "tools/list", "ok") >= 2
    assert operations(server, "tools/call", "ok") == 2
    assert operations(server, "ping", "ok" if mode == "legacy" else "error") == 1
    assert operations(server, "resources/list", "ok") == 1
    assert operations(server, "prompts/get", "error") == 1
    assert operations(server, "tools/call", "error") == 0
    if mode == "legacy":
        assert operations(server, "initialize", "ok") == 1
        assert operations(server, "notifications/initialized", "ok") == 1
    # A method the specification does not have is `other`, never a series of its own.
    headers, made_up = modern_request("made/up", {})
    answer = httpx.post(server.mcp_url, json=made_up, headers=headers).json()
    assert answer["error"]["code"] == -32601  # Method not found
    assert operations(server, "other", "error") == 1
    text = httpx.get(f"{server.base_url}/metrics").text
    assert 'mcp_method_name="made/up"' not in text
    assert "_created" not in text
