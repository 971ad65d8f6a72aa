"""A 2026-07-28 call whose client closes its connection is cancelled (the revision's way to
cancel over HTTP); a 2025-11-25 call runs to its end, as that revision asks, unless its client
cancels it with notifications/cancelled in a session of a stateful server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import mcp
import pytest
from harness.gates import marker, wait_for
from harness.jsonrpc import MCP_HEADERS, modern_request
from harness.processes import ServerProcess
from harness.runtime import StartServer
from mcp_runtime.client_gone import LISTEN_AFTER_SECONDS
from raw_http import RawConnection

HANDSHAKE_ERA = "2025-11-25"


# The fast path serves the calls itself; without it, FastMCP and the SDK's endpoint do.
@pytest.fixture(scope="module", params=["fast path", "FastMCP"])
def server(start_module_server: StartServer, request: pytest.FixtureRequest) -> ServerProcess:
    return start_module_server(env={"MCP_FAST_PATH": str(request.param == "fast path").lower()})


def call_gated(gate: Path, modern: bool) -> tuple[dict[str, str], bytes]:
    params: dict[str, Any] = {
        "name": "gated_echo",
        "arguments": {"text": "opened", "gate": str(gate)},
    }
    if modern:
        headers, message = modern_request("tools/call", params)
    else:
        headers = {
            **MCP_HEADERS,
            "content-type": "application/json",
            "mcp-protocol-version": HANDSHAKE_ERA,
        }
        message = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
    return headers, json.dumps(message).encode()


def leave_during_call(server: ServerProcess, gate: Path, modern: bool) -> None:
    """Send a `gated_echo` call on a connection of its own, wait until the tool runs, then close
    the connection, as a client that gave up does."""
    headers, body = call_gated(gate, modern)
    with RawConnection(server.port) as connection:
        connection.send_head("POST", "/mcp", {**headers, "content-length": str(len(body))})
        connection.send(body)
        wait_for(marker(gate, "entered"), 10)


def calls(server: ServerProcess, outcome: str) -> float:
    return server.metric(f'mcp_tool_calls_total{{outcome="{outcome}",tool="gated_echo"}}')


def counted(server: ServerProcess, outcome: str, expected: float) -> bool:
    """Whether the calls with `outcome` reach `expected` within 5 s (the count follows the
    call's end by a moment)."""
    deadline = time.monotonic() + 5
    while calls(server, outcome) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return calls(server, outcome) == expected


def events(server: ServerProcess, outcome: str) -> list[dict[str, Any]]:
    found = []
    for line in server.log_text().splitlines():
        if line.startswith("{") and '"tool_call"' in line:
            event = json.loads(line)
            if event.get("tool") == "gated_echo" and event.get("outcome") == outcome:
                found.append(event)
    return found


def test_a_2026_call_is_cancelled_when_its_client_closes_the_connection(
    server: ServerProcess, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    cancelled_before = calls(server, "cancelled")
    leave_during_call(server, gate, modern=True)
    assert wait_for(marker(gate, "cancelled"), LISTEN_AFTER_SECONDS + 5), (
        "the tool ran on after its client had gone"
    )
    # Counted and logged as cancelled, not as the tool's error, and no longer in flight.
    assert counted(server, "cancelled", cancelled_before + 1)
    assert server.metric("mcp_tool_calls_in_flight") == 0
    assert (
        server.metric(
            'mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",outcome="cancelled"}'
        )
        >= 1
    )
    assert events(server, "cancelled")
    # The server goes on answering.
    gate.touch()
    headers, body = call_gated(gate, modern=True)
    answer = httpx.post(server.mcp_url, content=body, headers=headers, timeout=10)
    assert answer.json()["result"]["content"][0]["text"] == "opened"


def test_a_2026_call_whose_client_waits_is_answered_on_the_same_connection(
    server: ServerProcess, tmp_path: Path
) -> None:
    """A call that outlasts the listening delay is listened to, and answered; the connection
    stays usable for the next call (listening took nothing from it)."""
    gate = tmp_path / "gate"
    with httpx.Client(timeout=20) as http:
        headers, body = call_gated(gate, modern=True)
        opener = threading.Timer(LISTEN_AFTER_SECONDS * 4, gate.touch)
        opener.start()
        answer = http.post(server.mcp_url, content=body, headers=headers)
        opener.join()
        assert answer.json()["result"]["content"][0]["text"] == "opened"
        again = http.post(server.mcp_url, content=body, headers=headers)
        assert again.json()["result"]["content"][0]["text"] == "opened"
    assert not marker(gate, "cancelled").exists()


def test_a_2025_call_runs_to_its_end_when_its_client_leaves(
    server: ServerProcess, tmp_path: Path
) -> None:
    """In 2025-11-25 a disconnect is not a cancellation; the client would send
    notifications/cancelled."""
    gate = tmp_path / "gate"
    ok_before = calls(server, "ok")
    leave_during_call(server, gate, modern=False)
    time.sleep(LISTEN_AFTER_SECONDS + 1)
    assert not marker(gate, "cancelled").exists()
    gate.touch()
    assert counted(server, "ok", ok_before + 1)


@pytest.fixture(scope="module")
def stateful_server(start_module_server: StartServer) -> ServerProcess:
    return start_module_server(env={"MCP_STATELESS": "false"})


async def test_a_2025_call_on_a_stateful_server_is_cancelled_by_its_clients_notification(
    stateful_server: ServerProcess, tmp_path: Path
) -> None:
    """A session-based client that gives up sends notifications/cancelled in its session, where
    the server can match it to the call: the SDK's client does so when a call is cancelled."""
    gate = tmp_path / "gate"
    cancelled_before = calls(stateful_server, "cancelled")
    async with mcp.Client(stateful_server.mcp_url, mode="legacy") as client:
        call = asyncio.create_task(
            client.call_tool("gated_echo", {"text": "opened", "gate": str(gate)})
        )
        assert await asyncio.to_thread(wait_for, marker(gate, "entered"), 20)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await asyncio.to_thread(wait_for, marker(gate, "cancelled"), 10), (
            "the tool ran on after its client cancelled it"
        )
        assert counted(stateful_server, "cancelled", cancelled_before + 1)
        # The session goes on.
        gate.touch()
        result = await client.call_tool("gated_echo", {"text": "again", "gate": str(gate)})
        assert not result.is_error and result.content[0].text == "again"
