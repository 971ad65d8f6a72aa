"""The fast path answers every request exactly as FastMCP does, and records calls the same way.

Each request is sent twice to one in-process app: once with the fast path on and once with
it off (everything through FastMCP and the MCP SDK). Status, content type, JSON body, the
metric updates and the log records must be identical, and the fast path must have served
what it claims to serve rather than quietly handing everything to FastMCP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_http_request
from fastmcp.server.middleware import Middleware
from fastmcp.tools import Tool, ToolResult
from harness.in_process import (
    BASE_HEADERS,
    SESSION_BASED,
    SESSION_HEADERS,
    Answer,
    Served,
    both_ways,
    lifespan_in_own_task,
    modern_request,
    routes_taken,
    served_in_process,
    session_request,
)
from mcp.shared.exceptions import MCPError
from mcp_runtime import RuntimeSettings, ServerSpec, build_app
from mcp_types import CallToolResult, TextContent
from mcp_types.jsonrpc import MISSING_REQUIRED_CLIENT_CAPABILITY
from pydantic import BaseModel, ConfigDict, Field


class Point(BaseModel):
    x: float
    y: float


class Note(BaseModel):
    text: str
    tag: str | None = None


class Person(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first_name: str = Field(alias="firstName")
    nickname: str | None = None


class ListedNumber(Tool):
    """A tool declaring a non-object output schema, as a proxied tool may: FastMCP marks its
    structured result raw, and wraps it under `result` for handshake-era clients."""

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(
            content=[TextContent(type="text", text="[7]")], structured_content={"n": 7}
        )


def make_server(name: str, mask_error_details: bool) -> FastMCP:
    mcp = FastMCP(name, version="1.2.3", mask_error_details=mask_error_details)

    @mcp.tool
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @mcp.tool(run_in_thread=False)
    def inline_echo(text: str) -> str:
        """A sync tool declared safe to run on the event loop (no worker thread)."""
        return text

    @mcp.tool
    async def add(a: int, b: int = 0) -> int:
        """Add two integers."""
        return a + b

    @mcp.tool
    def fail(reason: str) -> str:
        """Fail with a tool error."""
        raise ToolError(reason)

    @mcp.tool
    def crash() -> str:
        """Fail with an unexpected error."""
        raise ValueError("internal detail")

    @mcp.tool
    def point(x: float, y: float) -> Point:
        """A structured result."""
        return Point(x=x, y=y)

    @mcp.tool
    def note(text: str) -> Note:
        """A structured result with a null field."""
        return Note(text=text)

    @mcp.tool
    def protocol_result(name: str) -> CallToolResult:
        """A protocol result returned as it is, a model in its structured content (which
        FastMCP dumps by alias and without null fields, as the wire has it)."""
        return CallToolResult(
            content=[TextContent(type="text", text=name)],
            structured_content={"person": Person(first_name=name)},
            meta={"kept": True},
        )

    @mcp.tool
    def nothing() -> None:
        """Return nothing."""

    @mcp.tool
    def protocol_version(ctx: Context) -> str:
        """The protocol revision of the request, read through the FastMCP context."""
        assert ctx.request_context is not None
        return ctx.request_context.protocol_version

    @mcp.tool
    async def chatty(ctx: Context) -> str:
        """Log and report progress to the client, which a JSON response cannot carry."""
        await ctx.info("working")
        await ctx.report_progress(1, 2)
        return "done"

    @mcp.tool
    def request_header() -> str:
        """A header of the HTTP request, read through FastMCP's request helper."""
        return get_http_request().headers.get("x-test", "absent")

    @mcp.tool(timeout=0.05)
    async def too_slow() -> str:
        """Outlast the tool's timeout."""
        await asyncio.sleep(5)
        return "late"

    mcp.add_tool(
        ListedNumber(
            name="listed_number",
            description="A structured result under a non-object output schema.",
            parameters={"type": "object", "properties": {}},
            output_schema={"type": "array", "items": {"type": "integer"}},
        )
    )

    @mcp.tool
    def needs_sampling() -> str:
        """Fail for want of a client capability, an error FastMCP puts on the wire."""
        raise MCPError(code=MISSING_REQUIRED_CLIENT_CAPABILITY, message="needs sampling")

    return mcp


async def serve(mcp: FastMCP, env: dict[str, str] | None = None) -> AsyncIterator[Served]:
    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings(**(env or {})))
    async with served_in_process(app, mcp) as served:
        yield served


@pytest.fixture(scope="module")
async def stateless() -> AsyncIterator[Served]:
    async for served in serve(make_server("diff", mask_error_details=False)):
        yield served


@pytest.fixture(scope="module")
async def masked() -> AsyncIterator[Served]:
    async for served in serve(make_server("masked", mask_error_details=True)):
        yield served


TOOL_CALLS = [
    ("echo", {"text": "hi"}),
    ("inline_echo", {"text": "hi"}),
    ("add", {"a": 2, "b": 3}),
    ("add", {"a": "not a number"}),
    ("add", {}),
    ("add", {"a": 1, "c": 5}),
    ("fail", {"reason": "disk on fire"}),
    ("crash", {}),
    ("point", {"x": 1.5, "y": -2}),
    ("point", {"x": "1.5", "y": 2}),
    ("note", {"text": "héllo ✓ \u2028"}),
    ("protocol_result", {"name": "Ann"}),
    ("nothing", {}),
    ("protocol_version", {}),
    ("chatty", {}),
    ("request_header", {}),
    ("too_slow", {}),
    ("needs_sampling", {}),
    ("listed_number", {}),
]
TOOL_CALL_IDS = [f"{name}-{index}" for index, (name, _) in enumerate(TOOL_CALLS)]


def assert_same(fast: Answer, slow: Answer) -> None:
    assert fast == slow


@pytest.mark.parametrize(("tool", "arguments"), TOOL_CALLS, ids=TOOL_CALL_IDS)
async def test_modern_tool_calls_match_fastmcp(
    stateless: Served, tool: str, arguments: dict[str, Any]
) -> None:
    headers, body = modern_request("tools/call", {"name": tool, "arguments": arguments})
    fast, slow = await both_ways(stateless, headers, body)
    assert_same(fast, slow)
    assert stateless.route == "tool call"
    assert sum(v for k, v in fast.metrics.items() if k.startswith("mcp_tool_calls_total")) == 1
    assert [event["event"] for event in fast.events] == ["tool_call"]


@pytest.mark.parametrize(("tool", "arguments"), TOOL_CALLS, ids=TOOL_CALL_IDS)
async def test_session_based_tool_calls_match_fastmcp(
    stateless: Served, tool: str, arguments: dict[str, Any]
) -> None:
    body = session_request("tools/call", {"name": tool, "arguments": arguments}, "call-7")
    fast, slow = await both_ways(stateless, SESSION_HEADERS, body)
    assert_same(fast, slow)
    assert stateless.route == "tool call"
    assert fast.body["id"] == "call-7"


async def test_modern_calls_with_request_details_match_fastmcp(stateless: Served) -> None:
    headers, body = modern_request(
        "tools/call",
        {"name": "chatty", "arguments": {}, "_meta": {"progressToken": "p-1"}},
        request_id="req-abc",
    )
    fast, slow = await both_ways(stateless, headers, body)
    assert_same(fast, slow)
    assert (stateless.route, fast.body["id"]) == ("tool call", "req-abc")
    headers, body = modern_request("tools/call", {"name": "request_header", "arguments": {}})
    fast, slow = await both_ways(stateless, {**headers, "x-test": "seen"}, body)
    assert_same(fast, slow)
    assert fast.body["result"]["content"][0]["text"] == "seen"


@pytest.mark.parametrize(
    ("tool", "arguments"), [("crash", {}), ("fail", {"reason": "shown"})], ids=["crash", "fail"]
)
async def test_masked_errors_match_fastmcp(
    masked: Served, tool: str, arguments: dict[str, Any]
) -> None:
    for headers, body in (
        modern_request("tools/call", {"name": tool, "arguments": arguments}),
        (SESSION_HEADERS, session_request("tools/call", {"name": tool, "arguments": arguments})),
    ):
        fast, slow = await both_ways(masked, headers, body)
        assert_same(fast, slow)
        assert masked.route == "tool call"
        assert fast.body["result"]["isError"] is True
    assert "internal detail" not in json.dumps(fast.body)


async def test_tool_calls_are_counted_like_fastmcps(stateless: Served) -> None:
    headers, body = modern_request("tools/call", {"name": "add", "arguments": {"a": "x"}})
    fast, slow = await both_ways(stateless, headers, body)
    assert fast.metrics == slow.metrics
    assert fast.metrics['mcp_tool_calls_total{outcome="error",tool="add"}'] == 1
    assert fast.metrics['mcp_tool_call_duration_seconds_count{tool="add"}'] == 1
    assert (
        fast.events
        == slow.events
        == [
            {
                "event": "tool_call",
                "log_level": "info",
                "tool": "add",
                "outcome": "error",
                "error_type": "ValidationError",
            }
        ]
    )


# Requests the fast path leaves to FastMCP, whose answers must therefore be FastMCP's own.
MODERN_HANDED_ON = {
    "unknown tool": modern_request("tools/call", {"name": "nope", "arguments": {}}),
    "arguments not an object": modern_request("tools/call", {"name": "echo", "arguments": [1]}),
    "name missing": modern_request("tools/call", {"arguments": {}}),
    "component version": modern_request(
        "tools/call",
        {"name": "echo", "arguments": {"text": "x"}, "_meta": {"fastmcp": {"version": "2"}}},
    ),
    "request state": modern_request(
        "tools/call", {"name": "echo", "arguments": {"text": "x"}, "requestState": "forged"}
    ),
    "tools/list": modern_request("tools/list", {}),
    "ping": modern_request("ping", {}),
    "server/discover": modern_request("server/discover", {}),
}


def _with_headers(request: tuple[dict, bytes], **changes: str | None) -> tuple[dict, bytes]:
    headers, body = request
    headers = {**headers, **changes}
    return {k: v for k, v in headers.items() if v is not None}, body


ECHO = modern_request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
MODERN_HANDED_ON |= {
    "name header mismatch": _with_headers(ECHO, **{"mcp-name": "add"}),
    "method header missing": _with_headers(ECHO, **{"mcp-method": None}),
    "unsupported version": _with_headers(ECHO, **{"mcp-protocol-version": "2099-01-01"}),
    "no json accepted": _with_headers(ECHO, accept="text/event-stream"),
    "text types accepted": _with_headers(ECHO, accept="text/*"),
    "no content type": _with_headers(ECHO, **{"content-type": None}),
    "form content type": _with_headers(
        ECHO, **{"content-type": "application/x-www-form-urlencoded"}
    ),
    "malformed json": (ECHO[0], b'{"jsonrpc": "2.0", "id": 1,'),
    "batch": (ECHO[0], b"[" + ECHO[1] + b"]"),
    "notification": (ECHO[0], json.dumps({"jsonrpc": "2.0", "method": "tools/call"}).encode()),
    "envelope without meta": (
        ECHO[0],
        session_request("tools/call", {"name": "echo", "arguments": {"text": "x"}}),
    ),
}


# Bodies the fast path's JSON parser (pydantic's) refuses where the SDK's (`json.loads`) reads
# them: handed on, so the SDK's parser decides.
_NESTED = "[" * 250 + "]" * 250
MODERN_HANDED_ON |= {
    "utf-16 body": (ECHO[0], ECHO[1].decode().encode("utf-16")),
    "lone surrogate": (ECHO[0], ECHO[1].replace(b'"text": "x"', b'"text": "\\ud800"')),
    "nesting past 200": (
        ECHO[0],
        ECHO[1].replace(b'"text": "x"', b'"text": "x", "deep": ' + _NESTED.encode()),
    ),
}


@pytest.mark.parametrize("case", list(MODERN_HANDED_ON))
async def test_modern_requests_left_to_fastmcp_get_its_answer(stateless: Served, case: str) -> None:
    fast, slow = await both_ways(stateless, *MODERN_HANDED_ON[case])
    assert_same(fast, slow)
    assert stateless.route == "fastmcp"


# Accept and Content-Type headers the SDK admits in other spellings: the fast path serves them.
MODERN_HEADER_SPELLINGS = {
    "any type accepted": {"accept": "*/*"},
    "application types accepted": {"accept": "application/*"},
    "json with a weight": {"accept": "text/event-stream;q=0.5, Application/JSON;q=0.9"},
    "json with a charset": {"content-type": "Application/JSON; charset=utf-8"},
}


# Bodies both parsers read alike: the fast path serves them.
MODERN_BODY_SPELLINGS = {
    "escapes": ECHO[1].replace(b'"text": "x"', b'"text": "a\\u0000\\u00e9\\ud83d\\ude00\\/"'),
    "a repeated key, the last kept": ECHO[1].replace(b'"text": "x"', b'"text": "1", "text": "2"'),
    "whitespace around": b" \n\t" + ECHO[1] + b"\r\n ",
    "an id past 64 bits": ECHO[1].replace(b'"id": 1', b'"id": 123456789012345678901234567890'),
}


@pytest.mark.parametrize("case", list(MODERN_BODY_SPELLINGS))
async def test_modern_bodies_both_parsers_read_alike_are_served_as_fastmcp_serves_them(
    stateless: Served, case: str
) -> None:
    fast, slow = await both_ways(stateless, ECHO[0], MODERN_BODY_SPELLINGS[case])
    assert_same(fast, slow)
    assert stateless.route == "tool call"


@pytest.mark.parametrize("case", list(MODERN_HEADER_SPELLINGS))
async def test_modern_calls_with_other_header_spellings_match_fastmcp(
    stateless: Served, case: str
) -> None:
    # Twice, the second with a verdict on its Accept header kept from the first.
    for _ in range(2):
        fast, slow = await both_ways(
            stateless, *_with_headers(ECHO, **MODERN_HEADER_SPELLINGS[case])
        )
        assert_same(fast, slow)
        assert stateless.route == "tool call"


INITIALIZE_PARAMS = {
    "protocolVersion": SESSION_BASED,
    "capabilities": {},
    "clientInfo": {"name": "test", "version": "0"},
}

# Session-based requests the fast path answers through the SDK's own request kernel.
SESSION_KERNEL = {
    "initialize": (SESSION_HEADERS, session_request("initialize", INITIALIZE_PARAMS)),
    "initialize without version header": (
        BASE_HEADERS,
        session_request("initialize", {**INITIALIZE_PARAMS, "protocolVersion": "2025-06-18"}),
    ),
    "tools/list": (SESSION_HEADERS, session_request("tools/list", {})),
    "ping": (SESSION_HEADERS, session_request("ping", None)),
    "unknown method": (SESSION_HEADERS, session_request("nope/nothing", {})),
    "unknown tool": (
        SESSION_HEADERS,
        session_request("tools/call", {"name": "nope", "arguments": {}}),
    ),
    "arguments not an object": (
        SESSION_HEADERS,
        session_request("tools/call", {"name": "echo", "arguments": "x"}),
    ),
    "charset in content type": (
        {**SESSION_HEADERS, "content-type": "application/json; charset=utf-8"},
        session_request("ping", None),
    ),
    "initialized notification": (
        SESSION_HEADERS,
        json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode(),
    ),
}

SESSION_HANDED_ON = {
    "malformed json": (SESSION_HEADERS, b"{"),
    "batch": (SESSION_HEADERS, b"[" + session_request("ping", None) + b"]"),
    "posted response": (
        SESSION_HEADERS,
        json.dumps({"jsonrpc": "2.0", "id": 4, "result": {}}).encode(),
    ),
    "json suffix content type": (
        {**SESSION_HEADERS, "content-type": "application/json-patch+json"},
        session_request("ping", None),
    ),
}


@pytest.mark.parametrize("case", list(SESSION_KERNEL))
async def test_session_based_requests_match_fastmcp(stateless: Served, case: str) -> None:
    fast, slow = await both_ways(stateless, *SESSION_KERNEL[case])
    assert_same(fast, slow)
    assert stateless.route == "kernel"


@pytest.mark.parametrize("case", list(SESSION_HANDED_ON))
async def test_session_based_requests_left_to_fastmcp_get_its_answer(
    stateless: Served, case: str
) -> None:
    fast, slow = await both_ways(stateless, *SESSION_HANDED_ON[case])
    assert_same(fast, slow)
    assert stateless.route == "fastmcp"


async def test_tools_changed_at_run_time_are_looked_up_again() -> None:
    async for served in serve(make_server("changing", mask_error_details=False)):
        echo = modern_request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
        add = modern_request("tools/call", {"name": "add", "arguments": {"a": 1}})
        served.mcp.disable(names={"echo"}, components={"tool"})
        fast, routes = await routes_taken(served, echo, echo, add)
        assert fast.body["result"]["content"][0]["text"] == "1"
        # The change is noticed, the disabled tool is FastMCP's to refuse, the rest stay fast.
        assert routes == ["fastmcp", "fastmcp", "tool call"]

        served.mcp.enable(names={"echo"}, components={"tool"})
        fast, routes = await routes_taken(served, echo, echo)
        assert fast.body["result"]["content"][0]["text"] == "x"
        assert routes == ["fastmcp", "tool call"]

        @served.mcp.tool
        def late(text: str) -> str:
            """Registered after start-up."""
            return text.upper()

        late_call = modern_request("tools/call", {"name": "late", "arguments": {"text": "x"}})
        fast, routes = await routes_taken(served, late_call, late_call)
        assert fast.body["result"]["content"][0]["text"] == "X"
        assert routes == ["fastmcp", "tool call"]


async def test_stateful_server_leaves_session_based_requests_to_fastmcp() -> None:
    async for served in serve(
        make_server("stateful", mask_error_details=False), {"mcp_stateless": "false"}
    ):
        initialize = await served.http.post(
            "/mcp",
            headers=SESSION_HEADERS,
            content=session_request("initialize", INITIALIZE_PARAMS),
        )
        assert initialize.status_code == 200
        headers = {**SESSION_HEADERS, "mcp-session-id": initialize.headers["mcp-session-id"]}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await served.http.post("/mcp", headers=headers, content=json.dumps(initialized).encode())
        call = session_request("tools/call", {"name": "echo", "arguments": {"text": "s"}}, 2)
        response = await served.http.post("/mcp", headers=headers, content=call)
        assert response.json()["result"]["content"][0]["text"] == "s"
        assert (served.delegated, served.fast_calls) == (3, 0)
        headers, body = modern_request("tools/call", {"name": "echo", "arguments": {"text": "m"}})
        assert (await served.http.post("/mcp", headers=headers, content=body)).status_code == 200
        assert (served.delegated, served.fast_calls) == (3, 1)


class Veto(Middleware):
    async def on_call_tool(self, context, call_next):  # type: ignore[no-untyped-def]
        raise ToolError("vetoed")


def test_servers_with_middleware_on_tool_calls_are_left_to_fastmcp() -> None:
    mcp = make_server("vetoing", mask_error_details=False)
    mcp.add_middleware(Veto())
    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings())
    assert app.state.fast_path._calls.unsupported_reason() == "middleware Veto"


async def test_middleware_added_at_run_time_gets_every_call() -> None:
    async for served in serve(make_server("late-veto", mask_error_details=False)):
        echo = modern_request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
        served.mcp.add_middleware(Veto())
        fast, routes = await routes_taken(served, echo, echo)
        assert fast.body["result"]["content"][0]["text"] == "vetoed"
        assert routes == ["fastmcp", "fastmcp"]


async def test_setting_turns_the_fast_path_off() -> None:
    app = build_app(
        ServerSpec(mcp=make_server("off", mask_error_details=False)),
        RuntimeSettings(mcp_fast_path="false"),
    )
    assert app.state.fast_path is None
    async with (
        lifespan_in_own_task(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
    ):
        headers, body = modern_request("tools/call", {"name": "echo", "arguments": {"text": "hi"}})
        response = await http.post("/mcp", headers=headers, content=body)
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"] == {"result": "hi"}
