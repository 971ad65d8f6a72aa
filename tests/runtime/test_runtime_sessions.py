"""Stateful sessions are bounded: a cap on how many are open, and an idle timeout that frees
them; the gauge mcp_sessions_active counts the live ones."""

from __future__ import annotations

import json
import time

import httpx
from harness.jsonrpc import INITIALIZE, MCP_HEADERS
from harness.processes import ServerProcess
from harness.runtime import StartServer

MAX_SESSIONS = 3
IDLE_SECONDS = 5
SESSION_HEADERS = {**MCP_HEADERS, "Content-Type": "application/json"}
ACTIVE = "mcp_sessions_active"


def open_session(server: ServerProcess) -> httpx.Response:
    return httpx.post(server.mcp_url, json=INITIALIZE, headers=SESSION_HEADERS)


def session_headers(session_id: str) -> dict[str, str]:
    return {**SESSION_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-11-25"}


def opened(server: ServerProcess) -> str:
    response = open_session(server)
    assert response.status_code == 200, response.text
    session_id = response.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    notified = httpx.post(server.mcp_url, json=initialized, headers=session_headers(session_id))
    assert notified.status_code == 202
    return session_id


def echo(server: ServerProcess, session_id: str, text: str) -> httpx.Response:
    call = {"name": "echo", "arguments": {"text": text}}
    message = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call}
    return httpx.post(server.mcp_url, json=message, headers=session_headers(session_id))


def wait_for_metric(server: ServerProcess, series: str, value: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while server.metric(series) != value:
        if time.monotonic() > deadline:
            raise AssertionError(f"{series} is {server.metric(series)}, not {value}")
        time.sleep(0.1)


def start_stateful(start_server: StartServer, idle_seconds: float) -> ServerProcess:
    return start_server(
        env={
            "MCP_STATELESS": "false",
            "MCP_MAX_SESSIONS": str(MAX_SESSIONS),
            "MCP_SESSION_IDLE_TIMEOUT_SECONDS": str(idle_seconds),
        }
    )


def test_the_session_past_the_cap_gets_503_and_a_closed_one_frees_its_slot(
    start_server: StartServer,
) -> None:
    # Long enough an idle timeout that no session expires during the test.
    stateful = start_stateful(start_server, idle_seconds=600)
    sessions = [opened(stateful) for _ in range(MAX_SESSIONS)]
    assert stateful.metric(ACTIVE) == MAX_SESSIONS

    refused = open_session(stateful)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "30"
    assert refused.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in refused.headers
    assert refused.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32603,
            "message": f"session limit reached (MCP_MAX_SESSIONS={MAX_SESSIONS});"
            " close idle sessions or raise the limit",
        },
    }
    # Sessions already open are unaffected.
    assert echo(stateful, sessions[0], "still here").status_code == 200

    closed = httpx.delete(stateful.mcp_url, headers=session_headers(sessions[0]))
    assert closed.status_code == 200
    assert stateful.metric(ACTIVE) == MAX_SESSIONS - 1
    opened(stateful)
    assert stateful.metric(ACTIVE) == MAX_SESSIONS


def test_idle_sessions_expire_answer_404_like_unknown_ones_and_free_their_slots(
    start_server: StartServer,
) -> None:
    stateful = start_stateful(start_server, idle_seconds=IDLE_SECONDS)
    sessions = [opened(stateful) for _ in range(MAX_SESSIONS)]
    assert open_session(stateful).status_code == 503
    # A session in use does not expire; the others do once idle for the timeout.
    in_use = sessions[0]
    deadline = time.monotonic() + IDLE_SECONDS + 2
    while time.monotonic() < deadline:
        assert echo(stateful, in_use, "busy").status_code == 200
        time.sleep(0.5)
    wait_for_metric(stateful, ACTIVE, 1, timeout=IDLE_SECONDS + 10)

    for session_id in sessions[1:]:
        expired = echo(stateful, session_id, "late")
        assert expired.status_code == 404
        assert expired.json()["error"]["message"] == "Session not found"
        unknown = echo(stateful, "0" * 32, "never opened")
        assert (unknown.status_code, unknown.json()) == (expired.status_code, expired.json())
    assert echo(stateful, in_use, "kept").status_code == 200
    # Their slots are free again.
    for _ in range(MAX_SESSIONS - 1):
        opened(stateful)
    assert stateful.metric(ACTIVE) == MAX_SESSIONS


def test_defaults_bound_sessions(start_server: StartServer) -> None:
    server = start_server(env={"MCP_STATELESS": "false"})
    assert server.metric(ACTIVE) == 0
    opened(server)
    assert server.metric(ACTIVE) == 1
    log = [json.loads(line) for line in server.log_text().splitlines() if line[:1] == "{"]
    limits = next(event for event in log if event["event"] == "session_limits")
    assert (limits["max_sessions"], limits["idle_timeout_seconds"]) == (500, 1800)


def test_stateless_servers_keep_no_sessions(sample_server: ServerProcess) -> None:
    assert open_session(sample_server).status_code == 200
    assert sample_server.metric(ACTIVE) == 0
