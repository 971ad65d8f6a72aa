"""A tool's ask for input through the gateway: asked through one gateway replica, answered
through another, each in front of a different replica of the upstream, as two Services
without sticky sessions would route it. Both layers seal the request state (the upstream's
inside the gateway's), so each needs its replicas to share keys (MCP_REQUEST_STATE_KEYS)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from gateway_env import StartGateway
from harness import runtime
from harness.asks import REFUSED, ask, confirmation, refusal
from harness.processes import ServerProcess

TOOL = "sample_confirmed"
UPSTREAM_KEYS = {"MCP_REQUEST_STATE_KEYS": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def sample_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    """Two replicas of the sample server sharing their request-state keys."""
    replicas = [
        runtime.launch(tmp_path_factory.mktemp(f"sample-{index}"), UPSTREAM_KEYS, None)
        for index in range(2)
    ]
    for replica in replicas:
        replica.wait_ready()
    yield replicas
    for replica in replicas:
        replica.stop()


def gateways_to(
    start_gateway: StartGateway, replicas: list[ServerProcess], keys: list[str]
) -> list[ServerProcess]:
    """One gateway in front of each replica, the n-th with request-state keys `keys[n]`."""
    return [
        start_gateway({"sample": {"url": replica.mcp_url}}, env={"MCP_REQUEST_STATE_KEYS": key})
        for replica, key in zip(replicas, keys, strict=True)
    ]


def test_an_ask_through_one_gateway_is_answered_through_another(
    start_gateway: StartGateway, sample_replicas: list[ServerProcess]
) -> None:
    key = secrets.token_hex(32)
    first, second = gateways_to(start_gateway, sample_replicas, [key, key])
    state = ask(first.mcp_url, TOOL)
    asked_by, answered_by = (replica.pid for replica in sample_replicas)
    assert confirmation(second.mcp_url, state, TOOL) == (
        f"confirmed by {answered_by}; asked by {asked_by}"
    )


def test_gateways_with_keys_of_their_own_refuse_each_others_state(
    start_gateway: StartGateway, sample_replicas: list[ServerProcess]
) -> None:
    first, second = gateways_to(
        start_gateway, sample_replicas, [secrets.token_hex(32), secrets.token_hex(32)]
    )
    state = ask(first.mcp_url, TOOL)
    assert refusal(second.mcp_url, state, TOOL) == REFUSED
    # The gateway that sealed it passes the answer on to its upstream, which opens its own.
    pid = sample_replicas[0].pid
    assert confirmation(first.mcp_url, state, TOOL) == f"confirmed by {pid}; asked by {pid}"
