"""A relayed call's POST reads every kind of answer as the MCP SDK's streamable-HTTP client
does (an aiohttp web server on a real socket answering each way), and sends what the SDK's
session sends."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import mcp_types
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.server import create_proxy
from mcp.shared.exceptions import MCPError
from mcp_gateway.connections import UpstreamConnections
from mcp_gateway.settings import Upstream as UpstreamSettings
from mcp_gateway.upstream import UpstreamProvider
from mcp_gateway.upstream_calls import UpstreamCallMetrics, UpstreamCalls
from mcp_gateway.upstream_posts import UpstreamPosts
from prometheus_client import CollectorRegistry

RESULT = {"content": [{"type": "text", "text": "hi"}], "isError": False}
Handler = Callable[
    [web.Request, dict[str, Any]], web.StreamResponse | Awaitable[web.StreamResponse]
]


def answer(request: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request["id"], **fields}


async def events(request: web.Request, *messages: dict[str, Any], **sse: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    for number, message in enumerate(messages):
        await response.write(
            f"id: {number}\nevent: message\ndata: {json.dumps(message)}\n\n".encode()
        )
    for field, value in sse.items():
        await response.write(f"{field}: {value}\n\n".encode())
    return response


ANSWERS: dict[str, Handler] = {
    "json": lambda _, sent: _json(answer(sent, result=RESULT)),
    "events": lambda request, sent: events(
        request,
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": 1}},
        answer(sent, result=RESULT),
    ),
}

FAILURES: dict[str, tuple[Handler, int, str]] = {
    "a JSON-RPC error": (
        lambda _, sent: _json(answer(sent, error={"code": -32602, "message": "bad text"})),
        -32602,
        "bad text",
    ),
    "a JSON-RPC error with an error status": (
        lambda _, sent: _json(answer(sent, error={"code": -32601, "message": "nope"}), 400),
        -32601,
        "nope",
    ),
    "202 Accepted": (
        lambda *_: _status(202),
        mcp_types.INVALID_REQUEST,
        "server answered a request with 202 Accepted",
    ),
    "a redirect": (
        lambda *_: _status(307, {"location": "/elsewhere?token=x"}),
        mcp_types.INVALID_REQUEST,
        "/elsewhere not followed",
    ),
    "404": (lambda *_: _status(404), mcp_types.METHOD_NOT_FOUND, "Not Found"),
    "401": (lambda *_: _status(401), mcp_types.INTERNAL_ERROR, "Server returned an error"),
    "another content type": (
        lambda *_: web.Response(text="hello", content_type="text/plain"),
        mcp_types.INVALID_REQUEST,
        "Unexpected content type: text/plain",
    ),
    "JSON that is not JSON": (
        lambda *_: web.Response(text="{not json", content_type="application/json"),
        mcp_types.PARSE_ERROR,
        "Failed to parse JSON response",
    ),
    "JSON that is no answer": (
        lambda *_: _json({"jsonrpc": "2.0", "result": 1}),
        mcp_types.PARSE_ERROR,
        "not a JSON-RPC answer",
    ),
    "events that end without an answer": (
        lambda request, _: events(
            request, {"jsonrpc": "2.0", "method": "notifications/message", "params": {}}
        ),
        mcp_types.CONNECTION_CLOSED,
        "SSE stream ended without a response",
    ),
    "an event over the SDK's size limit": (
        lambda request, sent: events(request, answer(sent, result={"x": "y" * 1_100_000})),
        mcp_types.CONNECTION_CLOSED,
        "SSE stream failed",
    ),
}


def _json(body: object, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _status(status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, headers=headers)


class Upstream:
    """Answers each POST with `handler`, and keeps what it was sent."""

    def __init__(self) -> None:
        self.handler: Handler = ANSWERS["json"]
        self.url = ""
        self.seen: list[tuple[dict[str, str], dict[str, Any]]] = []

    async def post(self, request: web.Request) -> web.StreamResponse:
        sent = await request.json()
        self.seen.append(({k.lower(): v for k, v in request.headers.items()}, sent))
        answered = self.handler(request, sent)
        return await answered if inspect.isawaitable(answered) else answered


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, UpstreamPosts]]:
    upstream = Upstream()
    app = web.Application()
    app.router.add_post("/mcp", upstream.post)
    async with TestServer(app, host="127.0.0.1") as server:
        upstream.url = str(server.make_url("/mcp"))
        posts = UpstreamPosts(upstream.url)
        try:
            yield upstream, posts
        finally:
            await posts.aclose()


def stamp(data: dict[str, Any], options: dict[str, Any]) -> None:
    data["params"].setdefault("_meta", {})["io.modelcontextprotocol/protocolVersion"] = "v"
    options.setdefault("headers", {})["Mcp-Method"] = data["method"]


async def call(posts: UpstreamPosts, headers: dict[str, str] | None = None) -> dict[str, Any]:
    params = {"name": "echo", "arguments": {"text": "hi"}}
    return await posts.request(stamp, headers or {}, "tools/call", params, progress=True)


@pytest.mark.parametrize("way", ANSWERS)
async def test_the_answer_is_read_from_json_or_events(
    upstream: tuple[Upstream, UpstreamPosts], way: str
) -> None:
    server, posts = upstream
    server.handler = ANSWERS[way]
    assert await call(posts) == RESULT


async def test_the_request_is_the_sessions_with_the_callers_headers(
    upstream: tuple[Upstream, UpstreamPosts],
) -> None:
    server, posts = upstream
    await call(posts, {"Authorization": "Bearer one", "x-caller": "a"})
    await call(posts, {"authorization": "Bearer two"})
    (first_headers, first), (second_headers, second) = server.seen
    assert first["method"] == "tools/call"
    assert first["params"]["name"] == "echo"
    assert first["params"]["arguments"] == {"text": "hi"}
    # The stamp's envelope and headers, and the request id as its progress token.
    assert first["params"]["_meta"] == {
        "io.modelcontextprotocol/protocolVersion": "v",
        "progressToken": first["id"],
    }
    assert second["id"] != first["id"]
    assert first_headers["mcp-method"] == "tools/call"
    assert first_headers["accept"] == "application/json, text/event-stream"
    assert first_headers["user-agent"] == f"python-httpx2/{httpx2.__version__}"
    # Each call carries its own caller's headers only, though both share one connection.
    assert (first_headers["authorization"], first_headers["x-caller"]) == ("Bearer one", "a")
    assert second_headers["authorization"] == "Bearer two"
    assert "x-caller" not in second_headers


@pytest.mark.parametrize("failure", FAILURES)
async def test_each_failed_answer_raises_the_sdks_error(
    upstream: tuple[Upstream, UpstreamPosts], failure: str
) -> None:
    server, posts = upstream
    server.handler, code, words = FAILURES[failure]
    with pytest.raises(MCPError) as raised:
        await call(posts)
    assert raised.value.error.code == code
    assert words in raised.value.error.message
    assert "token=x" not in raised.value.error.message


# Arguments a client's JSON may carry: the upstream gets them as they were (pydantic's
# serializer writes most; a lone surrogate, which it cannot write in UTF-8, `json.dumps` does).
ARGUMENTS = {
    "non-ASCII text": {"text": "é 漢字 😀"},
    "a lone surrogate": {"text": "a\ud800b"},
    "numbers JSON reads": {"big": 10**30, "tiny": 2.5e-300, "negative zero": -0.0, "n": 7},
    "nesting": {"deep": [[[{"k": [1, {"x": None}]}]]]},
}


@pytest.mark.parametrize("arguments", ARGUMENTS)
async def test_the_arguments_reach_the_upstream_as_the_client_sent_them(
    upstream: tuple[Upstream, UpstreamPosts], arguments: str
) -> None:
    server, posts = upstream
    params = {"name": "echo", "arguments": ARGUMENTS[arguments]}
    await posts.request(stamp, {}, "tools/call", params)
    ((_, sent),) = server.seen
    assert sent["params"]["arguments"] == ARGUMENTS[arguments]


def _body(payload: bytes) -> Handler:
    return lambda *_: web.Response(body=payload, content_type="application/json")


def _answer_text(text_json: str) -> bytes:
    head = b'{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":'
    return head + text_json.encode() + b"}]}}"


# Answers pydantic's parser refuses and `json.loads` (the SDK's client's parser) reads.
ANSWERS_ONLY_JSON_LOADS_READS = {
    "UTF-16": (_answer_text('"hi"').decode().encode("utf-16"), "hi"),
    "a lone surrogate": (_answer_text('"a\\ud800b"'), "a\ud800b"),
    "nesting past 200": (
        _answer_text('"hi"').replace(
            b'"result":{', b'"result":{"deep":' + b"[" * 250 + b"]" * 250 + b","
        ),
        "hi",
    ),
}


@pytest.mark.parametrize("kind", ANSWERS_ONLY_JSON_LOADS_READS)
async def test_answers_only_json_loads_reads_are_read(
    upstream: tuple[Upstream, UpstreamPosts], kind: str
) -> None:
    server, posts = upstream
    payload, text = ANSWERS_ONLY_JSON_LOADS_READS[kind]
    server.handler = _body(payload)
    result = await call(posts)
    assert result["content"] == [{"type": "text", "text": text}]


async def test_json_that_is_not_json_fails_in_the_words_of_json_loads(
    upstream: tuple[Upstream, UpstreamPosts],
) -> None:
    server, posts = upstream
    server.handler = _body(b"{not json")
    with pytest.raises(MCPError) as raised:
        await call(posts)
    assert raised.value.error.message == (
        "Failed to parse JSON response: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    )


async def test_an_upstream_that_refuses_connections_fails_in_httpx2s_words() -> None:
    posts = UpstreamPosts("http://127.0.0.1:1/mcp")
    try:
        with pytest.raises(httpx2.ConnectError, match="All connection attempts failed") as raised:
            await call(posts)
        assert isinstance(raised.value.__cause__, OSError)
    finally:
        await posts.aclose()


DISCOVERED: dict[str, tuple[Handler, bool | None]] = {
    "2026-07-28 among its versions": (
        lambda _, sent: _json(
            answer(sent, result={"supportedVersions": ["2025-11-25", "2026-07-28"]})
        ),
        True,
    ),
    "only handshake-era versions": (
        lambda _, sent: _json(answer(sent, result={"supportedVersions": ["2025-11-25"]})),
        False,
    ),
    "no server/discover": (
        lambda _, sent: _json(answer(sent, error={"code": -32601, "message": "no"}), 404),
        False,
    ),
    "not for the gateway's own request (401)": (lambda *_: _status(401), None),
}


@pytest.mark.parametrize("upstream_says", DISCOVERED)
async def test_handshake_era_calls_are_relayed_only_to_an_upstream_that_speaks_2026(
    upstream: tuple[Upstream, UpstreamPosts], upstream_says: str
) -> None:
    server, _ = upstream
    server.handler, speaks_modern = DISCOVERED[upstream_says]
    connections = UpstreamConnections()
    transport = StreamableHttpTransport(server.url, httpx_client_factory=connections.client)
    settings = UpstreamSettings(url=server.url)
    provider = UpstreamProvider(
        "up",
        settings,
        create_proxy(transport, name="up").client_factory,
        connections,
        tools_seen=lambda *_: None,
        answered=lambda *_: None,
        calls=UpstreamCalls(
            "up", settings, lambda *_: None, UpstreamCallMetrics(CollectorRegistry())
        ),
    )
    try:
        await provider._discover(asyncio.get_running_loop().time() + 10)
        assert server.seen[-1][1]["method"] == "server/discover"
        assert provider.relays_for("2026-07-28")
        assert provider.relays_for("2025-11-25") is (speaks_modern is True)
        assert provider._speaks_modern is speaks_modern  # None: asked again at the next listing
    finally:
        await provider.aclose()
        await connections.aclose()
