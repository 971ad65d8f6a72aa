"""MCP_REQUEST_STATE_KEYS: a tool's ask for input may be answered on any replica.

The sample server's `confirmed` tool asks its caller to confirm (2026-07-28), then returns the
request state it minted, as FastMCP hands it back. Each test asks on one server process and
answers on another, as a client behind a Service without sticky sessions would; the last two
look at the boundary the keys go into.
"""

from __future__ import annotations

import secrets

import pytest
from fastmcp import FastMCP
from harness.asks import REFUSED, ask, confirmation, refusal
from harness.processes import ServerProcess
from harness.runtime import StartServer
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity
from mcp_runtime.internals import lowlevel_server
from mcp_runtime.request_state_keys import seal_request_state_with
from structlog.testing import capture_logs


def new_key() -> str:
    return secrets.token_hex(32)


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
    state = ask(asking.mcp_url)
    assert confirmation(answering.mcp_url, state) == (
        f"confirmed by {answering.pid}; asked by {asking.pid}"
    )


def test_without_shared_keys_another_replica_refuses_the_state(
    start_server: StartServer,
) -> None:
    # FastMCP's default, each process sealing under a key it made at start: the flow only
    # works when the answer comes back to the process that asked.
    asking, other = started(start_server), started(start_server)
    state = ask(asking.mcp_url)
    assert refusal(other.mcp_url, state) == REFUSED
    assert (
        confirmation(asking.mcp_url, state) == f"confirmed by {asking.pid}; asked by {asking.pid}"
    )


def test_a_key_rotated_out_of_first_place_still_opens_what_it_sealed(
    start_server: StartServer,
) -> None:
    old, new = new_key(), new_key()
    before = started(start_server, MCP_REQUEST_STATE_KEYS=old)
    during = started(start_server, MCP_REQUEST_STATE_KEYS=f"{new},{old}")
    after = started(start_server, MCP_REQUEST_STATE_KEYS=new)
    sealed_with_old = ask(before.mcp_url)
    assert confirmation(during.mcp_url, sealed_with_old).endswith(f"asked by {before.pid}")
    assert refusal(after.mcp_url, sealed_with_old) == REFUSED
    # The new key seals from the first replica that puts it first.
    assert confirmation(after.mcp_url, ask(during.mcp_url)).endswith(f"asked by {during.pid}")


def test_workers_of_one_server_open_each_others_state(start_server: StartServer) -> None:
    # The workers fork from a parent that built the server, key included, so they agree
    # without MCP_REQUEST_STATE_KEYS. Each call opens a connection of its own, which the
    # kernel gives to either worker.
    server = started(start_server, MCP_WORKERS="2")
    crossed = 0
    for _ in range(20):
        said = confirmation(server.mcp_url, ask(server.mcp_url))
        answered_by, asked_by = (int(part.rsplit(" ", 1)[1]) for part in said.split("; "))
        crossed += answered_by != asked_by
    assert crossed > 0


def boundary_of(mcp: FastMCP) -> RequestStateBoundary:
    (boundary,) = (
        layer
        for layer in lowlevel_server(mcp).middleware
        if isinstance(layer, RequestStateBoundary)
    )
    return boundary


def test_the_keys_replace_fastmcps_key_in_place() -> None:
    mcp = FastMCP("keyed")
    middleware = list(lowlevel_server(mcp).middleware)
    before = boundary_of(mcp)
    with capture_logs() as events:
        seal_request_state_with(mcp, [new_key()])
    after = boundary_of(mcp)
    assert after is not before
    # Same place in the chain, every other layer untouched, and nothing to say about it.
    assert [layer is after or layer for layer in lowlevel_server(mcp).middleware] == [
        layer is before or layer for layer in middleware
    ]
    assert events == []


def test_a_server_with_a_request_state_policy_of_its_own_keeps_it() -> None:
    mcp = FastMCP("own", request_state_security=RequestStateSecurity(keys=[new_key()]))
    before = boundary_of(mcp)
    with capture_logs() as events:
        seal_request_state_with(mcp, [new_key()])
    assert boundary_of(mcp) is before
    assert events == [
        {
            "event": "request_state_keys_unused",
            "reason": "the server sets its own request_state_security",
            "server": "own",
            "log_level": "warning",
        }
    ]
