"""/ready follows dependencies; SIGTERM drains in-flight calls of both protocol generations."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import fastmcp
import httpx
import mcp
import pytest
from harness.jsonrpc import modern_request
from harness.processes import ServerProcess
from harness.runtime import StartServer
from mcp_types import TextContent


def ready(server: ServerProcess) -> httpx.Response:
    return httpx.get(f"{server.base_url}/ready")


async def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def log_events(server: ServerProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]


def test_ready_follows_a_dependency_and_recovers(start_server: StartServer, tmp_path: Path) -> None:
    outage = tmp_path / "outage"
    server = start_server(env={"SAMPLE_OUTAGE_FILE": str(outage)})
    assert ready(server).json() == {"status": "ready"}
    outage.touch()
    response = ready(server)
    assert response.status_code == 503
    assert response.json() == {
        "status": "not ready",
        "reason": "dependency_reachable: ConnectionError: sample dependency is down",
    }
    assert httpx.get(f"{server.base_url}/health").status_code == 200
    outage.unlink()
    assert ready(server).status_code == 200


CALLS_PER_CLIENT_KIND = 10


async def fastmcp_gated_echo(
    url: str, legacy: bool, text: str, gate: Path, results: dict[str, str]
) -> None:
    async with fastmcp.Client(url, mode="legacy" if legacy else "auto", timeout=60) as client:
        await client.list_tools()
        result = await client.call_tool("gated_echo", {"text": text, "gate": str(gate)})
        results[text] = str(result.data)


async def sdk_gated_echo(
    url: str, legacy: bool, text: str, gate: Path, results: dict[str, str]
) -> None:
    async with mcp.Client(url, mode="legacy" if legacy else "auto") as client:
        await client.list_tools()
        result = await client.call_tool("gated_echo", {"text": text, "gate": str(gate)})
        assert not result.is_error, result
        content = result.content[0]
        assert isinstance(content, TextContent)
        results[text] = content.text


async def call_ignoring_close_errors(
    call, url: str, legacy: bool, text: str, gate: Path, results: dict[str, str]
) -> None:
    """Make the call; once it has its result, a failure to close the client does not count.

    The clients list the tools before the call: after a call whose tool they have not listed,
    both list them to validate its result, a follow-up that the drain's quiet second serves
    on a quiet machine but, at a load of 10 and more, can arrive after the server has gone.
    This test is about the calls in flight.

    Closing a client may still talk to the server (a session-based client ends its session
    with a DELETE), which a drained server that already exited cannot answer.
    """
    try:
        await call(url, legacy, text, gate, results)
    except Exception:
        if text not in results:
            raise


@pytest.mark.parametrize("stateless", ["true", "false"], ids=["stateless", "stateful"])
async def test_sigterm_lets_every_in_flight_call_finish_and_exits_0(
    start_server: StartServer, tmp_path: Path, stateless: str
) -> None:
    server = start_server(env={"MCP_STATELESS": stateless, "MCP_DRAIN_TIMEOUT_SECONDS": "20"})
    gate = tmp_path / "gate"
    expected = []
    results: dict[str, str] = {}
    tasks = []
    for call, library in ((fastmcp_gated_echo, "fastmcp"), (sdk_gated_echo, "sdk")):
        for legacy, generation in ((True, "session-based"), (False, "session-less")):
            for index in range(CALLS_PER_CLIENT_KIND):
                text = f"{library}-{generation}-{index}"
                expected.append(text)
                tasks.append(
                    asyncio.create_task(
                        call_ignoring_close_errors(
                            call, server.mcp_url, legacy, text, gate, results
                        )
                    )
                )
    await wait_for(
        lambda: server.metric("mcp_tool_calls_in_flight") == len(tasks),
        timeout=60,
        what="every call to be in flight",
    )
    server.terminate()
    await wait_for(lambda: ready(server).status_code == 503, timeout=30, what="/ready to be 503")
    assert ready(server).json()["reason"] == "draining"
    await asyncio.sleep(0.5)
    assert server.process.poll() is None, "the server exited with calls in flight"
    assert not any(task.done() for task in tasks)
    gate.touch()
    await asyncio.gather(*tasks)
    assert results == {text: text for text in expected}
    assert await asyncio.to_thread(server.process.wait, 15) == 0
    events = {event["event"]: event for event in log_events(server)}
    assert events["drain_started"]["in_flight"] >= len(tasks)
    assert "drain_finished" in events


# Kubernetes only stops routing to the pod once the endpoint removal has spread, which
# happens while the pod already drains; probes run every few seconds, so /ready must turn
# at once, and calls that still arrive must be served.
READY_TURNS_WITHIN_SECONDS = 3.0


async def test_after_sigterm_ready_is_503_at_once_and_new_calls_still_succeed(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(env={"MCP_DRAIN_TIMEOUT_SECONDS": "20"})
    gate = tmp_path / "gate"
    # (name, the client mode that speaks it, the protocol version a tool call sees)
    generations = (
        ("session-based", "legacy", "2025-11-25"),
        ("session-less", "auto", "2026-07-28"),
    )
    results: dict[str, str] = {}
    in_flight = [
        asyncio.create_task(
            call_ignoring_close_errors(
                fastmcp_gated_echo,
                server.mcp_url,
                mode == "legacy",
                f"in-flight-{name}",
                gate,
                results,
            )
        )
        for name, mode, _ in generations
    ]
    await wait_for(
        lambda: server.metric("mcp_tool_calls_in_flight") == len(in_flight),
        timeout=60,
        what="both calls to be in flight",
    )
    server.terminate()
    await wait_for(
        lambda: ready(server).status_code == 503,
        timeout=READY_TURNS_WITHIN_SECONDS,
        what=f"/ready to be 503 within {READY_TURNS_WITHIN_SECONDS} s of SIGTERM",
    )
    assert ready(server).json() == {"status": "not ready", "reason": "draining"}

    # New clients, as a pod still listed as an endpoint gets them, speaking each generation.
    for _, mode, version in generations:
        async with fastmcp.Client(server.mcp_url, mode=mode) as client:
            assert (await client.call_tool("protocol_version", {})).data == version
        async with mcp.Client(server.mcp_url, mode=mode) as client:
            result = await client.call_tool("protocol_version", {})
            assert result.content == [TextContent(type="text", text=version)]
    assert server.metric('mcp_tool_calls_total{outcome="ok",tool="protocol_version"}') == 4
    assert server.process.poll() is None, "the server exited with calls in flight"
    assert not any(task.done() for task in in_flight)

    gate.touch()
    await asyncio.gather(*in_flight)
    assert results == {f"in-flight-{name}": f"in-flight-{name}" for name, _, _ in generations}
    assert await asyncio.to_thread(server.process.wait, 15) == 0


async def test_drain_gives_up_after_its_timeout_and_still_exits_0(
    start_server: StartServer,
) -> None:
    server = start_server(env={"MCP_DRAIN_TIMEOUT_SECONDS": "1"})
    async with fastmcp.Client(server.mcp_url) as client:
        call = asyncio.create_task(client.call_tool("slow_echo", {"text": "x", "seconds": 60}))
        await wait_for(
            lambda: server.metric("mcp_tool_calls_in_flight") == 1, timeout=60, what="the call"
        )
        terminated = time.monotonic()
        server.terminate()
        assert await asyncio.to_thread(server.process.wait, 15) == 0
        # Drain timeout (1 s) plus at most 3 s for closing connections, with slack for load.
        assert time.monotonic() - terminated < 10
        with pytest.raises(Exception):  # noqa: B017 - the connection is gone, whatever the error
            await call
    assert any(event["event"] == "drain_timed_out" for event in log_events(server))


@pytest.mark.parametrize("fast_path", ["true", "false"])
async def test_a_call_the_drain_timeout_cuts_off_gets_503_naming_it_not_a_server_error(
    start_server: StartServer, fast_path: str
) -> None:
    """uvicorn answered a request its stop cancelled as an application's failure: a bare
    500 in plain text and "Exception in ASGI application" with a traceback at ERROR."""
    server = start_server(env={"MCP_DRAIN_TIMEOUT_SECONDS": "1", "MCP_FAST_PATH": fast_path})
    headers, message = modern_request(
        "tools/call", {"name": "slow_echo", "arguments": {"text": "x", "seconds": 60}}
    )
    async with httpx.AsyncClient(timeout=30) as http:
        call = asyncio.create_task(http.post(server.mcp_url, headers=headers, json=message))
        await wait_for(
            lambda: server.metric("mcp_tool_calls_in_flight") == 1, timeout=60, what="the call"
        )
        server.terminate()
        response = await call
    assert await asyncio.to_thread(server.process.wait, 15) == 0
    assert (response.status_code, response.headers["connection"], response.json()) == (
        503,
        "close",
        {
            "error": "the server stopped before this request ended (it ran past "
            "MCP_DRAIN_TIMEOUT_SECONDS); it may have partly run"
        },
    )
    assert "Exception in ASGI application" not in server.log_text()
    cut_off = [event for event in log_events(server) if event["event"] == "request_cut_off"]
    assert [(e["level"], e["path"], e["answer_begun"]) for e in cut_off] == [
        ("warning", "/mcp", False)
    ]


async def test_sigterm_waits_for_a_request_to_an_extra_route(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(env={"MCP_DRAIN_TIMEOUT_SECONDS": "20"})
    gate = tmp_path / "gate"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
        request = asyncio.create_task(http.get("/gated", params={"gate": str(gate)}))
        entered = tmp_path / "gate.entered"
        await wait_for(entered.exists, timeout=60, what="/gated to be in flight")
        assert not request.done()
        server.terminate()
        await wait_for(lambda: ready(server).status_code == 503, timeout=30, what="/ready 503")
        # Longer than the quiet second plus the 3 s uvicorn gives open connections to close.
        await asyncio.sleep(5)
        assert server.process.poll() is None, "the server exited with /gated in flight"
        gate.touch()
        response = await request
    assert (response.status_code, response.json()) == (200, {"gate": "open"})
    assert await asyncio.to_thread(server.process.wait, 15) == 0
    started = next(event for event in log_events(server) if event["event"] == "drain_started")
    assert started["in_flight"] == 1


async def test_while_draining_responses_close_their_connection_and_kept_clients_go_on(
    start_server: StartServer, tmp_path: Path
) -> None:
    """A kept-alive connection stays with its pod: while draining, every response tells the
    client to close it, so that its next call opens a connection through the Service to a pod
    that stays, and the draining pod gets quiet instead of closing the connection under a call.
    """
    server = start_server(env={"MCP_DRAIN_TIMEOUT_SECONDS": "20"})
    gate = tmp_path / "gate"
    results: dict[str, str] = {}
    async with (
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as http,
        fastmcp.Client(server.mcp_url, timeout=30) as kept,
    ):
        assert "connection" not in (await http.get("/health")).headers
        assert (await kept.call_tool("echo", {"text": "before"})).data == "before"
        holding = asyncio.create_task(
            fastmcp_gated_echo(server.mcp_url, False, "holding", gate, results)
        )
        await wait_for(
            lambda: server.metric("mcp_tool_calls_in_flight") == 1, timeout=60, what="the call"
        )
        server.terminate()
        await wait_for(lambda: ready(server).status_code == 503, timeout=30, what="/ready 503")

        health = await http.get("/health")
        assert health.headers["connection"] == "close"
        listed = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={
                "accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2026-07-28",
            },
        )
        assert listed.headers["connection"] == "close", listed.headers
        # A call the fast path answers in front of the layers is told the same.
        headers, message = modern_request(
            "tools/call", {"name": "echo", "arguments": {"text": "x"}}
        )
        called = await http.post("/mcp", json=message, headers=headers)
        assert called.json()["result"]["content"][0]["text"] == "x"
        assert called.headers["connection"] == "close", called.headers
        # The kept client reconnects for each call and loses none of them.
        for index in range(5):
            text = f"draining-{index}"
            assert (await kept.call_tool("echo", {"text": text})).data == text
    gate.touch()
    await holding
    assert results == {"holding": "holding"}
    assert await asyncio.to_thread(server.process.wait, 15) == 0
    assert "drain_finished" in {event["event"] for event in log_events(server)}
