"""A request whose JSON-RPC id is not a string or an integer is an Invalid Request (-32600,
HTTP 400) on every path: the runtime's fast path and FastMCP's, both protocol generations,
stateless or not. Before, a session-based one was taken for a notification (202, no answer)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from harness.in_process import (
    SESSION_HEADERS,
    lifespan_in_own_task,
    modern_request,
    session_request,
    tool_metrics,
)
from mcp_runtime import RuntimeSettings, ServerSpec, build_app
from test_runtime_fast_path import INITIALIZE_PARAMS, make_server

INVALID_ID = {
    "jsonrpc": "2.0",
    "id": None,
    "error": {"code": -32600, "message": "Invalid Request: id must be a string or an integer"},
}
# JSON-RPC allows strings, numbers and null; MCP narrows that to strings and integers
# ("Unlike base JSON-RPC, the ID MUST NOT be null"), as the SDK's RequestId type does.
BAD_IDS = [{}, {"a": 1}, [], [1], True, False, 1.5, 1.0, None]
GOOD_IDS = ["x", "", 0, -7, 2**53]
ECHO = {"name": "echo", "arguments": {"text": "ran"}}


class App:
    def __init__(self, app: Any, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    def echo_calls(self) -> float:
        return tool_metrics(self.app).get('mcp_tool_calls_total{outcome="ok",tool="echo"}', 0)


async def serving(fast_path: bool, stateless: bool) -> AsyncIterator[App]:
    settings = RuntimeSettings(
        mcp_fast_path=str(fast_path).lower(), mcp_stateless=str(stateless).lower()
    )
    app = build_app(ServerSpec(mcp=make_server("ids", mask_error_details=False)), settings)
    async with (
        lifespan_in_own_task(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
    ):
        yield App(app, http)


@pytest.fixture(scope="module", params=[True, False], ids=["fast-path", "fastmcp"])
async def stateless(request: pytest.FixtureRequest) -> AsyncIterator[App]:
    async for served in serving(request.param, stateless=True):
        yield served


def with_id(body: bytes, request_id: Any) -> bytes:
    message = json.loads(body)
    message["id"] = request_id
    return json.dumps(message).encode()


def requests_of_each_generation(request_id: Any) -> list[tuple[dict[str, str], bytes]]:
    modern_headers, modern_body = modern_request("tools/call", ECHO)
    return [
        (SESSION_HEADERS, with_id(session_request("tools/call", ECHO), request_id)),
        (modern_headers, with_id(modern_body, request_id)),
    ]


@pytest.mark.parametrize("request_id", BAD_IDS, ids=repr)
async def test_bad_ids_get_invalid_request_and_run_nothing(stateless: App, request_id: Any) -> None:
    for headers, body in requests_of_each_generation(request_id):
        before = stateless.echo_calls()
        response = await stateless.http.post("/mcp", headers=headers, content=body)
        assert (response.status_code, response.json()) == (400, INVALID_ID), headers
        assert response.headers["content-type"] == "application/json"
        assert stateless.echo_calls() == before


@pytest.mark.parametrize("request_id", GOOD_IDS, ids=repr)
async def test_string_and_integer_ids_are_answered_with_the_same_id(
    stateless: App, request_id: Any
) -> None:
    for headers, body in requests_of_each_generation(request_id):
        before = stateless.echo_calls()
        response = await stateless.http.post("/mcp", headers=headers, content=body)
        assert response.status_code == 200
        assert response.json()["id"] == request_id
        assert stateless.echo_calls() == before + 1


async def test_notifications_and_other_methods_keep_their_answers(stateless: App) -> None:
    notification = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    response = await stateless.http.post("/mcp", headers=SESSION_HEADERS, content=notification)
    assert response.status_code == 202
    ping = with_id(session_request("ping", None), {"not": "an id"})
    response = await stateless.http.post("/mcp", headers=SESSION_HEADERS, content=ping)
    assert (response.status_code, response.json()) == (400, INVALID_ID)


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "fastmcp"])
async def test_bad_ids_in_a_stateful_session_get_invalid_request(fast_path: bool) -> None:
    async for served in serving(fast_path, stateless=False):
        opened = await served.http.post(
            "/mcp",
            headers=SESSION_HEADERS,
            content=session_request("initialize", INITIALIZE_PARAMS),
        )
        headers = {**SESSION_HEADERS, "mcp-session-id": opened.headers["mcp-session-id"]}
        for request_id in ({}, True, 1.5):
            body = with_id(session_request("tools/call", ECHO), request_id)
            response = await served.http.post("/mcp", headers=headers, content=body)
            assert (response.status_code, response.json()) == (400, INVALID_ID)
        assert served.echo_calls() == 0
