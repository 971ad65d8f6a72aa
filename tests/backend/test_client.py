"""mcp_backend_client against real servers: both protocol generations, retries only where
safe, timeouts, a flapping server."""

from __future__ import annotations

import time
import uuid

import pytest
from conftest import FAST, unique_name
from harness.processes import ServerProcess
from mcp_backend_client import BackendClient, BackendUnavailable, Server, ToolRejected
from prometheus_client import REGISTRY


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("protocol", "version"), [("auto", "2026-07-28"), ("legacy", "2025-11-25")]
)
async def test_tools_and_rest_in_both_generations(
    todo: ServerProcess, protocol: str, version: str
) -> None:
    server = Server(name=unique_name("todo"), url=todo.base_url, protocol=protocol)
    async with BackendClient(server) as client:
        created = await client.call_tool("create_task", {"title": f"via {protocol}"})
        assert client.protocol_version == version
        assert (await client.call_tool("get_task", {"task_id": created["id"]}))["title"] == (
            f"via {protocol}"
        )
        done = await client.call_tool("complete_task", {"task_id": created["id"]})
        assert done["status"] == "done"
        with pytest.raises(ToolRejected, match="no task with id"):
            await client.call_tool("get_task", {"task_id": 10**9})

        response = await client.request("GET", f"/tasks/{created['id']}")
        assert response.status_code == 200
        assert response.json()["status"] == "done"
        assert (await client.request("GET", "/tasks/999999999")).status_code == 404

        # The server's annotations decide: create_task has neither hint.
        assert not await client.tool_is_safe("create_task")
        assert await client.tool_is_safe("list_tasks")
        assert await client.tool_is_safe("complete_task")
        assert not await client.tool_is_safe("no_such_tool")
        assert client.breaker_state == "closed"


async def test_a_safe_tool_is_retried_after_a_timeout(flaky_client: BackendClient) -> None:
    key = uuid.uuid4().hex
    # A tool's plain int comes back wrapped, as FastMCP structures it.
    assert await flaky_client.call_tool("read", {"key": key, "slow_calls": [1]}) == {"result": 2}
    assert (
        _metric(
            "mcp_backend_client_retries_total",
            server=flaky_client.server.name,
            operation="tools/call read",
        )
        == 1
    )


async def test_a_create_is_never_repeated(flaky_client: BackendClient) -> None:
    key = uuid.uuid4().hex
    with pytest.raises(BackendUnavailable) as raised:
        await flaky_client.call_tool("write", {"key": key, "slow_calls": [1]})
    assert raised.value.retry_after >= 1
    assert await flaky_client.call_tool("count", {"key": key}) == {"result": 1}

    # Over REST: POST is sent once, GET again after the 503.
    post_key, get_key = uuid.uuid4().hex, uuid.uuid4().hex
    with pytest.raises(BackendUnavailable):
        await flaky_client.request("POST", f"/flaky/{post_key}")
    assert await flaky_client.call_tool("count", {"key": post_key}) == {"result": 1}
    assert (await flaky_client.request("GET", f"/flaky/{get_key}")).json() == {"call": 2}
    # A POST the API documents as repeatable may say so.
    repeatable = uuid.uuid4().hex
    response = await flaky_client.request("POST", f"/flaky/{repeatable}", idempotent=True)
    assert response.json() == {"call": 2}


async def test_a_slow_server_fails_within_the_timeouts(flaky_client: BackendClient) -> None:
    key = uuid.uuid4().hex
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="read"):
        await flaky_client.call_tool("read", {"key": key, "slow_calls": [1, 2, 3]})
    elapsed = time.monotonic() - started
    # Three attempts of 1.5 s and two backoffs of at most 0.1 s, with room for a loaded
    # machine: well below the 3 attempts x 4 s the server would take.
    assert elapsed < FAST.timeout_seconds * 3 + 1.5
    assert (
        _metric(
            "mcp_backend_client_failures_total",
            server=flaky_client.server.name,
            operation="tools/call read",
            reason="timeout",
        )
        == 3
    )
    # Three consecutive failures: the threshold.
    assert flaky_client.breaker_state == "open"


async def test_a_flapping_server_is_ridden_out(flaky_client: BackendClient) -> None:
    """Every other call fails: each one succeeds on its retry, and the breaker, which
    counts consecutive failures, stays closed."""
    key = uuid.uuid4().hex
    odd = list(range(1, 20, 2))
    results = [
        await flaky_client.call_tool("read", {"key": key, "slow_calls": odd}) for _ in range(3)
    ]
    assert [result["result"] for result in results] == [2, 4, 6]
    assert flaky_client.breaker_state == "closed"
    name = flaky_client.server.name
    assert (
        _metric("mcp_backend_client_retries_total", server=name, operation="tools/call read") == 3
    )
    assert (
        _metric(
            "mcp_backend_client_breaker_state",
            server=name,
            mcp_backend_client_breaker_state="closed",
        )
        == 1
    )
