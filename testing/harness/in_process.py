"""A server's app served in-process over httpx's ASGI transport, and each request answered
twice, with the runtime's fast path on and off, for the differential tests
(tests/runtime/test_runtime_fast_path.py, tests/bridge/test_bridge_fast_path.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from fastmcp import FastMCP
from prometheus_client import generate_latest
from starlette.applications import Starlette

MODERN = "2026-07-28"
SESSION_BASED = "2025-11-25"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
BASE_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
SESSION_HEADERS = {**BASE_HEADERS, "mcp-protocol-version": SESSION_BASED}

# The transports the fast path does without log their own life ("Terminating session: None"
# per stateless request), and debug lines name them.
TRANSPORT_LOGGERS = {"mcp.server.streamable_http", "mcp.server.streamable_http_manager"}

Request = tuple[dict[str, str], bytes]


@dataclass
class Answer:
    status: int
    content_type: str | None
    body: Any
    metrics: dict[str, float] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    records: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Served:
    """An app being served, and how many requests each part of the fast path took."""

    app: Starlette
    mcp: FastMCP
    http: httpx.AsyncClient
    fast_path: Any
    fast_calls: int = 0
    relayed_calls: int = 0
    delegated: int = 0
    route: str = ""


def modern_request(method: str, params: dict[str, Any], request_id: Any = 1) -> Request:
    headers = {**BASE_HEADERS, "mcp-protocol-version": MODERN, "mcp-method": method}
    if method == "tools/call" and "name" in params:
        headers["mcp-name"] = params["name"]
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    message["params"] = {**params, "_meta": {**MODERN_META, **params.get("_meta", {})}}
    return headers, json.dumps(message).encode()


def session_request(method: str, params: dict[str, Any] | None, request_id: Any = 1) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode()


@contextmanager
def fastmcp_records() -> Iterator[list[logging.LogRecord]]:
    """Log records of FastMCP's and the SDK's own loggers."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("fastmcp", "mcp")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def tool_metrics(app: Starlette) -> dict[str, float]:
    values = {}
    for line in generate_latest(app.state.metrics.registry).decode().splitlines():
        if line.startswith(
            (
                "mcp_tool_calls_total",
                "mcp_tool_calls_in_flight",
                "mcp_tool_call_duration_seconds_count",
            )
        ):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


class CountedEndpoint:
    """FastMCP's endpoint behind the fast path, counting the requests handed on to it."""

    def __init__(self, endpoint: Any, served: Served) -> None:
        self._endpoint = endpoint
        self._served = served

    @property
    def session_manager(self) -> Any:
        return self._endpoint.session_manager

    async def __call__(self, *args: Any) -> None:
        self._served.delegated += 1
        await self._endpoint(*args)


@asynccontextmanager
async def lifespan_in_own_task(app: Starlette) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own: its task groups must be entered and left
    in one task, which a module fixture's setup and teardown are not."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with app.router.lifespan_context(app):
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when="FIRST_COMPLETED")
    if task.done():
        task.result()
    try:
        yield
    finally:
        stop.set()
        await task


@asynccontextmanager
async def served_in_process(app: Starlette, mcp: FastMCP) -> AsyncIterator[Served]:
    """`app` (of `mcp`) running, with its fast path on and counting what it serves."""
    transport = httpx.ASGITransport(app=app)
    async with (
        lifespan_in_own_task(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        fast_path = app.state.fast_path
        assert fast_path is not None and fast_path.enabled
        served = Served(app, mcp, http, fast_path)
        calls = fast_path._calls.call

        async def counted_call(*args: Any) -> Any:
            served.fast_calls += 1
            return await calls(*args)

        fast_path._calls.call = counted_call
        relayed = fast_path._calls._relayed_calls
        if relayed is not None:
            relayed_call = relayed.call

            async def counted_relayed_call(*args: Any) -> Any:
                served.relayed_calls += 1
                return await relayed_call(*args)

            relayed.call = counted_relayed_call
        fast_path._endpoint = CountedEndpoint(fast_path._endpoint, served)
        yield served


async def post(served: Served, headers: dict[str, str], body: bytes) -> Answer:
    before = tool_metrics(served.app)
    with structlog.testing.capture_logs() as events, fastmcp_records() as records:
        response = await served.http.post("/mcp", headers=headers, content=body)
    after = tool_metrics(served.app)
    try:
        parsed: Any = response.json()
    except json.JSONDecodeError:
        parsed = response.text
    return Answer(
        status=response.status_code,
        content_type=response.headers.get("content-type"),
        body=parsed,
        metrics={name: after[name] - before.get(name, 0) for name in after},
        events=[
            {k: v for k, v in event.items() if k not in ("duration_ms", "request_id")}
            for event in events
        ],
        records=[
            (r.name, r.levelname, r.getMessage())
            for r in records
            if r.levelno > logging.DEBUG and r.name not in TRANSPORT_LOGGERS
        ],
    )


async def both_ways(served: Served, headers: dict[str, str], body: bytes) -> tuple[Answer, Answer]:
    """The answer with the fast path on, then with it off; `served.route` says who answered
    the first: "relayed" (`RelayedCalls`), "tool call" (`FastToolCalls`), "kernel" (the
    SDK's request kernel) or "fastmcp" (handed on unchanged)."""
    fast_calls, relayed_calls, delegated = served.fast_calls, served.relayed_calls, served.delegated
    fast = await post(served, headers, body)
    if served.relayed_calls > relayed_calls:
        served.route = "relayed"
    elif served.fast_calls > fast_calls:
        served.route = "tool call"
    else:
        served.route = "fastmcp" if served.delegated > delegated else "kernel"
    served.fast_path.enabled = False
    try:
        slow = await post(served, headers, body)
    finally:
        served.fast_path.enabled = True
    return fast, slow


async def routes_taken(served: Served, *requests: Request) -> tuple[Answer, list[str]]:
    """Each request both ways (the answers must match): the last fast answer, and who
    answered each request (`served.route`)."""
    routes = []
    for request in requests:
        fast, slow = await both_ways(served, *request)
        assert fast == slow, (fast, slow)
        routes.append(served.route)
    return fast, routes
