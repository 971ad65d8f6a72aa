"""The runtime's fast path serves the stdio server's tools exactly as FastMCP's proxy does.

As in tests/runtime/test_runtime_fast_path.py, each request goes twice to one in-process
bridge (with the fake stdio server as its child): once with the fast path on, where a tool
call goes from the runtime straight to the child (`RelayedCalls` and the bridge's tool
relay), and once with it off, through FastMCP's proxy. Status, body, metric updates and
log records must be identical, and the fast path must have relayed what it claims to.
The fake's `verbatim` tool answers with whatever result or JSON-RPC error the test hands
it, so every shape of answer a stdio server may give is compared, in both generations.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
import structlog
from harness.bridge import fake_server
from harness.in_process import (
    SESSION_HEADERS,
    Request,
    Served,
    both_ways,
    modern_request,
    routes_taken,
    served_in_process,
    session_request,
)
from mcp_bridge.command import ChildCommand
from mcp_bridge.server import Bridge, create
from mcp_bridge.settings import BridgeSettings
from mcp_runtime import build_app
from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY

GENERATIONS = ["session-based", "session-less"]


def tool_call(generation: str, tool: str, arguments: dict[str, Any], **params: Any) -> Request:
    call = {"name": tool, "arguments": arguments, **params}
    if generation == "session-less":
        return modern_request("tools/call", call, request_id="call-1")
    return SESSION_HEADERS, session_request("tools/call", call, request_id="call-1")


@asynccontextmanager
async def in_process_bridge(*flags: str, **settings: Any) -> AsyncIterator[tuple[Served, Bridge]]:
    """A bridge of the fake stdio server (with `flags`), ready, its tools known to the fast path."""
    bridge_settings = BridgeSettings(**settings)
    bridge = create(bridge_settings, ChildCommand(tuple(fake_server(*flags)), "the test"))
    app = build_app(bridge.spec, bridge_settings)
    bridge.attach(app)
    async with served_in_process(app, bridge.spec.mcp) as served:
        with anyio.fail_after(60):
            while bridge.supervisor.not_ready_reason is not None:
                await anyio.sleep(0.02)
        await served.fast_path._calls.resolve_tools()
        yield served, bridge


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[Served]:
    async with in_process_bridge() as (served, _):
        yield served


async def relayed_like_fastmcp(served: Served, request: Request) -> dict[str, Any]:
    """The fast path's answer to `request`, relayed and the same as FastMCP's."""
    fast, slow = await both_ways(served, *request)
    assert fast == slow
    assert served.route == "relayed"
    return fast.body


TEXT = [{"type": "text", "text": "Tokyo: 21.5 C"}]
RESULTS: dict[str, dict[str, Any]] = {
    "text": {"content": TEXT},
    "tool error": {"content": [{"type": "text", "text": "no such city"}], "isError": True},
    "structured": {
        "content": TEXT,
        "structuredContent": {"temperature": 21.5, "unit": None, "days": [{"rain": None}]},
        "isError": False,
    },
    "structured null": {"content": TEXT, "structuredContent": None},
    "structured null, wrapped already": {
        "content": TEXT,
        "structuredContent": None,
        "_meta": {"fastmcp": {"wrap_result": True, "tag": "kept"}},
    },
    "metadata": {
        "content": TEXT,
        "_meta": {
            "io.modelcontextprotocol/serverInfo": {"name": "fake", "version": "1.0"},
            "io.modelcontextprotocol/protocolVersion": "2025-11-25",
            "trace": {"id": "abc", "none": None},
            "fastmcp": {"tag": "kept"},
        },
    },
    "rich content": {
        "content": [
            {
                "type": "text",
                "text": "see attached",
                "annotations": {"audience": ["user"], "priority": "0.5", "unknown": 1},
                "_meta": {"k": None},
                "extra": "dropped",
            },
            {"type": "image", "data": "aGk=", "mimeType": "image/png"},
            {"type": "audio", "data": "aGk=", "mimeType": "audio/wav"},
            {"type": "resource_link", "uri": "file:///a.txt", "name": "a", "size": 2},
            {
                "type": "resource",
                "resource": {"uri": "file:///b.txt", "text": "b", "mimeType": "text/plain"},
            },
            {"type": "resource", "resource": {"uri": "file:///c.bin", "blob": "aGk="}},
        ],
    },
    "isError as text": {"content": TEXT, "isError": "true"},
    "isError null": {"content": TEXT, "isError": None},
    "fields of later revisions and unknown ones": {
        "content": TEXT,
        "resultType": "complete",
        "ttlMs": 5,
        "somethingElse": {"a": 1},
    },
    "no content": {"isError": False},
    "structured list": {"content": TEXT, "structuredContent": [1, 2]},
    "prefab payload": {
        "content": TEXT,
        "structuredContent": {
            "view": {"onClick": {"tool": "__0123abcd_save"}},
            "_meta": {"fastmcp": {"toolNames": {"__0123abcd_save": "__0123abcd_save"}}},
        },
    },
}

ERRORS: dict[str, dict[str, Any]] = {
    "invalid params": {"code": -32602, "message": "no such city"},
    # The codes the SDK uses for a closed connection and a timeout of its own.
    "server error": {"code": -32000, "message": "upstream API down"},
    "timed out upstream": {"code": -32001, "message": "the weather API timed out"},
    "with data": {"code": -32010, "message": "rate limited", "data": {"retry_after": 3}},
    "missing capability": {"code": MISSING_REQUIRED_CLIENT_CAPABILITY, "message": "sampling"},
}


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("case", list(RESULTS))
async def test_each_result_of_the_child_is_relayed_as_fastmcp_relays_it(
    served: Served, generation: str, case: str
) -> None:
    request = tool_call(generation, "verbatim", {"result": RESULTS[case]})
    fast, slow = await both_ways(served, *request)
    assert fast == slow
    assert served.route == "relayed"
    assert fast.body["id"] == "call-1"
    assert [event["event"] for event in fast.events] == ["tool_call"]
    assert sum(v for k, v in fast.metrics.items() if k.startswith("mcp_tool_calls_total")) == 1


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("case", list(ERRORS))
async def test_a_json_rpc_error_of_the_child_ends_as_fastmcp_ends_it(
    served: Served, generation: str, case: str
) -> None:
    error = ERRORS[case]
    request = tool_call(generation, "verbatim", {"error": error})
    fast, slow = await both_ways(served, *request)
    assert fast == slow
    assert served.route == "relayed"
    assert fast.metrics['mcp_tool_calls_total{outcome="error",tool="verbatim"}'] == 1
    if error["code"] != MISSING_REQUIRED_CLIENT_CAPABILITY:
        assert fast.body["result"]["content"][0]["text"] == (
            f"Error calling tool 'verbatim': {error['message']}"
        )


async def test_results_counted_and_logged_like_fastmcps(served: Served) -> None:
    ok = await both_ways(served, *tool_call("session-less", "echo", {"text": "hi"}))
    failed = await both_ways(
        served, *tool_call("session-less", "verbatim", {"error": ERRORS["with data"]})
    )
    for fast, slow in (ok, failed):
        assert fast.metrics == slow.metrics
        assert fast.events == slow.events
    assert ok[0].metrics['mcp_tool_calls_total{outcome="ok",tool="echo"}'] == 1
    assert ok[0].metrics['mcp_tool_call_duration_seconds_count{tool="echo"}'] == 1
    assert failed[0].events == [
        {
            "event": "tool_call",
            "log_level": "info",
            "tool": "verbatim",
            "outcome": "error",
            "error_type": "ToolError",
        }
    ]
    assert failed[0].records == [
        ("fastmcp.server.server", "ERROR", "Error calling tool 'verbatim'")
    ]
    assert failed[0].body["result"]["content"][0]["text"] == (
        "Error calling tool 'verbatim': rate limited"
    )


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_the_child_gets_the_request_meta_fastmcp_passes_on(
    served: Served, generation: str
) -> None:
    meta = {"progressToken": "p-1", "app/trace": {"id": 7}}
    body = await relayed_like_fastmcp(served, tool_call(generation, "meta", {}, _meta=meta))
    # FastMCP's client replaces the client's progress token with one of its own.
    assert json.loads(body["result"]["content"][0]["text"]) == {
        "app/trace": {"id": 7},
        "progressToken": "<token>",
    }


async def test_a_call_someone_traces_takes_fastmcps_own_steps(served: Served) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    request = tool_call("session-less", "meta", {}, _meta={"traceparent": traceparent})
    fast, slow = await both_ways(served, *request)
    assert fast == slow
    assert served.route == "tool call"
    assert traceparent in fast.body["result"]["content"][0]["text"]


@pytest.mark.parametrize(
    ("generation", "route"), [("session-based", "kernel"), ("session-less", "fastmcp")]
)
async def test_an_unknown_tool_gets_fastmcps_answer(
    served: Served, generation: str, route: str
) -> None:
    fast, slow = await both_ways(served, *tool_call(generation, "nope", {}))
    assert fast == slow
    # FastMCP's own tools/call handler answers, through the SDK's kernel or its transport.
    assert served.route == route
    assert fast.body["result"]["content"][0]["text"] == "Unknown tool: 'nope'"


async def test_a_call_the_child_never_answers_ends_as_in_fastmcp(tmp_path: Any) -> None:
    async with in_process_bridge(mcp_bridge_request_timeout_seconds=0.5) as (served, _):
        request = tool_call("session-less", "gated", {"gate": str(tmp_path / "never")})
        body = await relayed_like_fastmcp(served, request)
    assert body["result"]["content"][0]["text"] == (
        "the stdio server did not answer within MCP_BRIDGE_REQUEST_TIMEOUT_SECONDS=0.5 s"
    )


async def test_tools_the_config_leaves_out_are_fastmcps_to_refuse(tmp_path: Any) -> None:
    config = tmp_path / "server-config.json"
    config.write_text(json.dumps({"tools": ["echo"]}))
    async with in_process_bridge(mcp_server_config=str(config)) as (served, _):
        left_out = tool_call("session-less", "pids", {})
        echo = tool_call("session-less", "echo", {"text": "x"})
        fast, routes = await routes_taken(served, left_out, echo)
    assert routes == ["fastmcp", "relayed"]
    assert fast.body["result"]["content"][0]["text"] == "x"


async def test_tools_the_child_adds_later_are_relayed_once_looked_up() -> None:
    async with in_process_bridge("--late-tool") as (served, bridge):
        provider = bridge.spec.tool_relays[0]
        assert provider is not None
        with anyio.fail_after(60):
            while "late" not in provider.relayed_tools:
                await anyio.sleep(0.02)
        late = tool_call("session-based", "late", {})
        fast, routes = await routes_taken(served, late, late)
    assert routes[-1] == "relayed"
    assert fast.body["result"]["content"][0]["text"] == "late"


async def test_a_relayed_call_is_logged_with_the_callers_request_id(served: Served) -> None:
    headers, body = tool_call("session-less", "echo", {"text": "x"})
    relayed = served.relayed_calls
    with structlog.testing.capture_logs() as events:
        response = await served.http.post(
            "/mcp", headers={**headers, "x-request-id": "req-42"}, content=body
        )
    assert response.json()["result"]["content"][0]["text"] == "x"
    assert served.relayed_calls == relayed + 1
    assert [(e["event"], e["request_id"]) for e in events] == [("tool_call", "req-42")]
