"""The gateway's connections to an upstream: kept open across calls, shared by callers whose
tokens never mix, and closed by a clean SIGTERM drain."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import fastmcp
import httpx
import pytest
from gateway_env import StartGateway
from harness.processes import ServerProcess
from mcp_gateway.connections import UpstreamConnections, closed_after

pytestmark = pytest.mark.timeout(180)

GENERATIONS = pytest.mark.parametrize("legacy", [True, False], ids=["2025-11-25", "2026-07-28"])


def mode(legacy: bool) -> str:
    return "legacy" if legacy else "auto"


async def whoami(client: fastmcp.Client[Any], seconds: float = 0.0) -> dict[str, str]:
    result = await client.call_tool("witness_whoami", {"seconds": seconds})
    assert isinstance(result.structured_content, dict)
    return result.structured_content


@GENERATIONS
async def test_callers_share_the_connections_and_each_call_carries_its_callers_token(
    start_gateway: StartGateway, witness: ServerProcess, legacy: bool
) -> None:
    gateway = start_gateway({"witness": {"url": witness.mcp_url}})
    url = gateway.mcp_url
    async with (
        fastmcp.Client(url, auth="token-a", mode=mode(legacy)) as a,
        fastmcp.Client(url, auth="token-b", mode=mode(legacy)) as b,
    ):
        # Overlapping calls of both callers, then turns taken call by call, so that calls of
        # one follow calls of the other on the same pooled connection.
        burst = await asyncio.gather(
            *(whoami(client, 0.2) for _ in range(5) for client in (a, b)),
        )
        turns = [await whoami(client) for _ in range(10) for client in (a, b)]
    expected = ["Bearer token-a", "Bearer token-b"]
    assert [seen["authorization"] for seen in burst] == expected * 5
    assert [seen["authorization"] for seen in turns] == expected * 10
    # A connection per call without the pool; with it, the calls that follow the burst,
    # whoever makes them, go over connections the burst opened (FastMCP's pool hands out the
    # last one returned, the relayed calls' the first: turns then visit each in order).
    opened = {seen["connection"] for seen in burst}
    assert {seen["connection"] for seen in turns} <= opened


def test_connections_closed_after_one_event_loop_serve_the_next(witness: ServerProcess) -> None:
    """The gateway lists its upstreams in an event loop of its own before it serves in
    another (MCP_SERVER_CONFIG's tool selection): a connection the first left open would
    fail the first call of the second with `Event loop is closed`."""
    pool = UpstreamConnections()

    async def answered_and_closed() -> int:
        async with closed_after([pool]), pool.client() as http:
            return (await http.get(witness.mcp_url)).status_code

    assert [asyncio.run(answered_and_closed()) for _ in range(2)] == [405, 405]


async def test_sigterm_drains_a_call_through_the_gateway_and_exits_cleanly(
    start_gateway: StartGateway, sample: ServerProcess, tmp_path: Path
) -> None:
    gateway = start_gateway(
        {"sample": {"url": sample.mcp_url}}, env={"MCP_DRAIN_TIMEOUT_SECONDS": "20"}
    )
    gate = tmp_path / "gate"
    async with fastmcp.Client(gateway.mcp_url, timeout=60) as client:
        await client.call_tool("sample_echo", {"text": "a pooled connection"})
        call = asyncio.create_task(
            client.call_tool("sample_gated_echo", {"text": "drained", "gate": str(gate)})
        )
        await wait_until(lambda: in_flight(gateway) == 1, "the call to be in flight")
        gateway.terminate()
        await wait_until(lambda: ready_status(gateway) == 503, "/ready to turn 503")
        assert not call.done()
        gate.touch()
        assert (await call).data == "drained"
    assert await asyncio.to_thread(gateway.process.wait, 15) == 0
    events = [json.loads(line) for line in gateway.log_text().splitlines() if line[:1] == "{"]
    assert "drain_finished" in {event["event"] for event in events}
    # A probe of the upstream that a stalled machine let time out says so at warning level,
    # and is about the upstream, not about this drain.
    probing = {"upstream_down", "readiness_check_failed"}
    problems = [
        event
        for event in events
        if event["level"] in ("warning", "error", "critical") and event["event"] not in probing
    ]
    assert problems == []
    assert "Traceback" not in gateway.log_text()


def in_flight(server: ServerProcess) -> float:
    return server.metric("mcp_tool_calls_in_flight")


def ready_status(server: ServerProcess) -> int:
    return httpx.get(f"{server.base_url}/ready", timeout=5).status_code


async def wait_until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
