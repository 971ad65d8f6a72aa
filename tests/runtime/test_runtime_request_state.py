"""MCP_REQUEST_STATE_KEYS: a tool's ask for input may be answered on any replica.

The sample server's `confirmed` tool asks its caller to confirm (2026-07-28), then returns the
request state it minted, as FastMCP hands it back. Each test asks on one server process and
answers on another, as a client behind a Service without sticky sessions would.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from harness.jsonrpc import modern_request
from harness.processes import ServerProcess
from harness.runtime import StartServer

ANSWERS = {"confirm": {"action": "accept", "content": {}}}
REFUSED = {
    "code": -32602,
    "message": "Invalid or expired requestState",
    "data": {"reason": "invalid_request_state"},
}


def new_key() -> str:
    return secrets.token_hex(32)


def post(server: ServerProcess, params: dict[str, Any]) -> httpx.Response:
    """One tools/call of `confirmed` on a connection of its own."""
    headers, message = modern_request("tools/call", {"name": "confirmed", **params})
    return httpx.post(server.mcp_url, headers=headers, json=message, timeout=30)


def ask(server: ServerProcess) -> str:
    """The sealed request state of `confirmed`'s ask, minted by `server`."""
    response = post(server, {"arguments": {}})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert set(result["inputRequests"]) == {"confirm"}, result
    state: str = result["requestState"]
    assert state.startswith("v1."), state  # sealed by the SDK's AES-GCM codec
    return state


def answer(server: ServerProcess, state: str) -> httpx.Response:
    return post(server, {"arguments": {}, "requestState": state, "inputResponses": ANSWERS})


def confirmation(server: ServerProcess, state: str) -> str:
    """What `confirmed` says once `server` takes the answer to the ask sealed in `state`."""
    response = answer(server, state)
    assert response.status_code == 200, response.text
    text: str = response.json()["result"]["content"][0]["text"]
    return text


def refusal(server: ServerProcess, state: str) -> dict[str, Any]:
    """The JSON-RPC error `server` answers the ask sealed in `state` with."""
    response = answer(server, state)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def started(start_server: StartServer, **env: str) -> ServerProcess:
    server = start_server(env=env)
    server.wait_ready()
    return server


@pytest.mark.parametrize("fast_path", ["true", "false"])
def test_an_ask_sealed_by_one_replica_is_answered_on_another(
    start_server: StartServer, fast_path: str
) -> None:
    keys = f"{new_key()},{new_key()}"
    asking, answering = (
        started(start_server, MCP_REQUEST_STATE_KEYS=keys, MCP_FAST_PATH=fast_path)
        for _ in range(2)
    )
    state = ask(asking)
    assert confirmation(answering, state) == (
        f"confirmed by {answering.pid}; asked by {asking.pid}"
    )


def test_without_shared_keys_another_replica_refuses_the_state(
    start_server: StartServer,
) -> None:
    # FastMCP's default, each process sealing under a key it made at start: the flow only
    # works when the answer comes back to the process that asked.
    asking, other = started(start_server), started(start_server)
    state = ask(asking)
    assert refusal(other, state) == REFUSED
    assert confirmation(asking, state) == f"confirmed by {asking.pid}; asked by {asking.pid}"


def test_a_key_rotated_out_of_first_place_still_opens_what_it_sealed(
    start_server: StartServer,
) -> None:
    old, new = new_key(), new_key()
    before = started(start_server, MCP_REQUEST_STATE_KEYS=old)
    during = started(start_server, MCP_REQUEST_STATE_KEYS=f"{new},{old}")
    after = started(start_server, MCP_REQUEST_STATE_KEYS=new)
    sealed_with_old = ask(before)
    assert confirmation(during, sealed_with_old).endswith(f"asked by {before.pid}")
    assert refusal(after, sealed_with_old) == REFUSED
    # The new key seals from the first replica that puts it first.
    assert confirmation(after, ask(during)).endswith(f"asked by {during.pid}")


def test_workers_of_one_server_open_each_others_state(start_server: StartServer) -> None:
    # The workers fork from a parent that built the server, key included, so they agree
    # without MCP_REQUEST_STATE_KEYS. Each call opens a connection of its own, which the
    # kernel gives to either worker.
    server = started(start_server, MCP_WORKERS="2")
    crossed = 0
    for _ in range(20):
        said = confirmation(server, ask(server))
        answered_by, asked_by = (int(part.rsplit(" ", 1)[1]) for part in said.split("; "))
        crossed += answered_by != asked_by
    assert crossed > 0
