"""One trace per tool call, in a real trace backend (Jaeger's all-in-one): from the caller's
`traceparent` through the gateway (its server and client spans), the todo server's tool span
and its SQLite statement, and through the stdio bridge to its child; the log events of the call
carry its trace id."""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import servers
from harness.bridge import RunningBridge, fake_server, start_bridge
from harness.jaeger import Jaeger, Span, Trace
from harness.jsonrpc import modern_request
from harness.processes import ServerProcess

CALLER = "tracing-test"


@pytest.fixture(scope="module")
def todo(jaeger: Jaeger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("todo")
    env = {"MCP_DATA_DIR": str(logs / "data"), **jaeger.otel_env("todo")}
    server = servers.launch("mcp-todo", logs, env)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateway(
    jaeger: Jaeger, todo: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    upstreams = json.dumps({"todo": {"url": todo.mcp_url}})
    env = {"MCP_GATEWAY_SERVERS": upstreams, **jaeger.otel_env("gateway")}
    server = servers.launch("mcp-gateway", tmp_path_factory.mktemp("gateway"), env)
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bridge(jaeger: Jaeger, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    """The bridge in front of the tests' stdio server, whose `meta` tool returns the `_meta` the
    child got."""
    running = start_bridge(
        tmp_path_factory.mktemp("bridge"), fake_server(), jaeger.otel_env("bridge")
    )
    running.wait_ready()
    yield running
    running.stop()


def _traceparent() -> tuple[str, str, str]:
    """A new trace: its id, the caller's span id, and the header value naming both."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _call(
    server: ServerProcess,
    tool: str,
    arguments: Mapping[str, Any],
    meta: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    request_headers, message = modern_request("tools/call", {"name": tool, "arguments": arguments})
    message["params"]["_meta"] = {**message["params"]["_meta"], **(meta or {})}
    answer = httpx.post(
        server.mcp_url, json=message, headers={**request_headers, **(headers or {})}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    assert not result.get("isError"), result
    return result


def _one(spans: list[Span]) -> Span:
    assert len(spans) == 1, spans
    return spans[0]


def _sqlite(trace: Trace, operation: str) -> list[Span]:
    return [
        span
        for span in trace.spans
        if span.service == "todo"
        and span.name == operation
        and span.tags.get("db.system.name") == "sqlite"
    ]


def _tool_call_events(log: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [event for event in events if event.get("event") == "tool_call"]


def test_a_call_through_the_gateway_is_one_trace_down_to_the_database(
    jaeger: Jaeger, gateway: ServerProcess, todo: ServerProcess
) -> None:
    trace_id, caller_span, traceparent = _traceparent()
    _call(gateway, "todo_create_task", {"title": "traced"}, meta={"traceparent": traceparent})

    def complete(trace: Trace) -> bool:
        return bool(
            trace.named("tools/call todo_create_task", "gateway")
            and trace.named("tools/call create_task", "gateway")
            and trace.named("tools/call create_task", "todo")
            and _sqlite(trace, "INSERT")
        )

    trace = jaeger.wait_for_trace(trace_id, complete)
    front = _one(trace.named("tools/call todo_create_task", "gateway"))
    upstream_call = _one(trace.named("tools/call create_task", "gateway"))
    tool = _one(trace.named("tools/call create_task", "todo"))
    insert = _one(_sqlite(trace, "INSERT"))
    # One connected trace, hanging from the caller's span.
    assert trace.roots() == [front]
    assert front.parent_id == caller_span
    assert front in trace.ancestors(upstream_call)
    assert upstream_call in trace.ancestors(tool)
    assert tool in trace.ancestors(insert)
    assert (front.kind, upstream_call.kind, tool.kind, insert.kind) == (
        "server",
        "client",
        "server",
        "client",
    )
    # The semantic conventions for MCP and GenAI tool calls, as FastMCP sets them.
    assert {
        key: tool.tags.get(key)
        for key in ("mcp.method.name", "gen_ai.tool.name", "gen_ai.operation.name")
    } == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "create_task",
        "gen_ai.operation.name": "execute_tool",
    }
    assert insert.tags["db.operation.name"] == "INSERT"
    assert insert.tags["db.query.text"].startswith("INSERT INTO todo_tasks")

    # Every log event of the call, in both processes, names the trace and its own span.
    for server, span in ((gateway, front), (todo, tool)):
        events = [e for e in _tool_call_events(server.log_text()) if e.get("trace_id") == trace_id]
        assert len(events) == 1, server.log_text()[-3000:]
        assert events[0]["span_id"] == span.span_id


def test_a_traceparent_header_at_the_gateway_stays_there(
    jaeger: Jaeger, gateway: ServerProcess
) -> None:
    """The gateway passes its callers' headers on, but not their trace context: todo's span
    hangs from the gateway's call, not from the caller's span beside it."""
    trace_id, caller_span, traceparent = _traceparent()
    _call(gateway, "todo_list_tasks", {}, headers={"traceparent": traceparent})

    def complete(trace: Trace) -> bool:
        return bool(
            trace.named("tools/call todo_list_tasks", "gateway")
            and trace.named("tools/call list_tasks", "todo")
        )

    trace = jaeger.wait_for_trace(trace_id, complete)
    front = _one(trace.named("tools/call todo_list_tasks", "gateway"))
    upstream_call = _one(trace.named("tools/call list_tasks", "gateway"))
    tool = _one(trace.named("tools/call list_tasks", "todo"))
    assert front.parent_id == caller_span
    assert trace.roots() == [front]
    assert upstream_call in trace.ancestors(tool)


def test_a_traceparent_header_stands_in_for_one_in_meta(
    jaeger: Jaeger, todo: ServerProcess
) -> None:
    """What a proxy or service mesh in front of a server sends."""
    trace_id, caller_span, traceparent = _traceparent()
    _call(todo, "list_tasks", {}, headers={"traceparent": traceparent})
    trace = jaeger.wait_for_trace(
        trace_id, lambda trace: bool(trace.named("tools/call list_tasks", "todo"))
    )
    tool = _one(trace.named("tools/call list_tasks", "todo"))
    assert tool.parent_id == caller_span
    assert _sqlite(trace, "SELECT")
    assert trace.roots() == [tool]


def test_a_call_without_a_traceparent_is_a_trace_of_its_own(
    jaeger: Jaeger, todo: ServerProcess
) -> None:
    _call(todo, "list_tasks", {})
    event = _tool_call_events(todo.log_text())[-1]
    trace = jaeger.wait_for_trace(
        event["trace_id"], lambda trace: bool(trace.named("tools/call list_tasks", "todo"))
    )
    tool = _one(trace.named("tools/call list_tasks", "todo"))
    assert tool.parent_id is None
    assert event["span_id"] == tool.span_id


def test_a_call_through_the_bridge_is_traced_to_its_child_and_carries_the_trace_on(
    jaeger: Jaeger, bridge: RunningBridge
) -> None:
    """The bridge's server span hangs from the caller's; below it, the client spans of its
    call to the child (FastMCP's proxy, its client and the SDK's send); the child's request
    carries the last of them as its parent in `_meta`, so a stdio server that traces joins the
    same trace."""
    trace_id, caller_span, traceparent = _traceparent()
    result = _call(bridge, "meta", {}, meta={"traceparent": traceparent})
    _, child_trace, child_parent, _ = json.loads(result["content"][0]["text"])["traceparent"].split(
        "-"
    )
    assert child_trace == trace_id

    def fronts(trace: Trace) -> list[Span]:
        return [s for s in trace.named("tools/call meta", "bridge") if s.kind == "server"]

    # The bridge's server span ends last of its spans: once Jaeger has it, it has the client
    # spans below it too (they are exported in the order they end), not only the deepest.
    def complete(trace: Trace) -> bool:
        return bool(fronts(trace)) and any(span.span_id == child_parent for span in trace.spans)

    trace = jaeger.wait_for_trace(trace_id, complete)
    front = _one(fronts(trace))
    (sent,) = [span for span in trace.spans if span.span_id == child_parent]
    assert trace.roots() == [front]
    assert front.parent_id == caller_span
    assert front in trace.ancestors(sent)
    assert (sent.service, sent.kind, sent.tags.get("mcp.method.name")) == (
        "bridge",
        "client",
        "tools/call",
    )
    events = [e for e in _tool_call_events(bridge.log_text()) if e.get("trace_id") == trace_id]
    assert len(events) == 1 and events[0]["span_id"] == front.span_id, bridge.log_text()[-3000:]


def _log_events(log: str, name: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [event for event in events if event.get("event") == name]


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        (
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "10s",
            "the OpenTelemetry SDK cannot export with these OTEL_* settings:"
            " ValueError: could not convert string to float: '10s'",
        ),
        (
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "zip",
            "the OpenTelemetry SDK cannot export with these OTEL_* settings:"
            ' InvalidCompressionValueException: Invalid value "zip" for compression envvar'
            " OTEL_EXPORTER_OTLP_COMPRESSION",
        ),
        (
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "0",
            "the OpenTelemetry SDK cannot export with these OTEL_* settings:"
            " ValueError: max_queue_size must be a positive integer.",
        ),
    ],
)
def test_a_value_the_sdk_refuses_disables_tracing_and_the_server_serves(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    env = {
        "MCP_DATA_DIR": str(tmp_path / "data"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        variable: value,
    }
    server = servers.launch("mcp-todo", tmp_path, env)
    try:
        server.wait_ready()
        assert _call(server, "list_tasks", {})
        (disabled,) = _log_events(server.log_text(), "tracing_disabled")
        assert disabled["reason"] == reason
    finally:
        server.stop()


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"]
)
def test_headers_not_written_name_equals_value_are_refused_without_logging_them(
    tmp_path: Path, variable: str
) -> None:
    # An HTTP header as curl takes it; the variable wants authorization=Bearer%20...
    env = {
        "MCP_DATA_DIR": str(tmp_path / "data"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
        variable: "x-scope-orgid=tenant-1,authorization: Bearer collector-s3cr3t",
    }
    server = servers.launch("mcp-todo", tmp_path, env)
    try:
        server.wait_ready()
        assert _call(server, "list_tasks", {})
        log = server.log_text()
        assert "collector-s3cr3t" not in log
        (disabled,) = _log_events(log, "tracing_disabled")
        assert disabled["reason"] == (
            f"{variable}: entry 2 is not name=value; write each header as name=value,"
            " URL-encoded and comma-separated (authorization=Bearer%20TOKEN); the value is not"
            " repeated here, as it may hold a secret"
        )
    finally:
        server.stop()


def test_a_collector_that_never_answers_holds_the_exit_a_moment_only(tmp_path: Path) -> None:
    # Takes the exporter's connection and never answers it: each export waits out its 10 s.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        env = {
            "MCP_DATA_DIR": str(tmp_path / "data"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}",
            # The call's spans are being exported when the SIGTERM comes.
            "OTEL_BSP_SCHEDULE_DELAY": "50",
        }
        server = servers.launch("mcp-todo", tmp_path, env)
        try:
            server.wait_ready()
            assert _call(server, "list_tasks", {})
            time.sleep(0.5)
            began = time.monotonic()
            assert server.stop() == 0
            # The drain's quiet second, and sdk.SHUTDOWN_SECONDS for the spans still queued.
            assert time.monotonic() - began < 5
        finally:
            server.kill()
