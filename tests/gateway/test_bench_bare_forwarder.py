"""`bench/gateway.py`'s bare forwarder relays a namespaced tool call in both generations.

The bench reads its numbers as the least a Python gateway costs, so it must do a gateway's
one job: the call reaches the upstream's tool under its own name and the answer comes back.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from bench_peers import bench, echo_upstream


@pytest.fixture(scope="module")
def forwarder() -> Iterator[Any]:
    with echo_upstream() as upstream:
        url = f"http://127.0.0.1:{upstream.port}/mcp"
        command = [sys.executable, str(bench.PEERS / "bare_forwarder.py"), url, "echo"]
        peer = bench.Peer(
            "forwarder", command, probe="/ready", statuses=frozenset({404}), port_arg="port"
        )
        with bench.started(peer) as server:
            yield server


async def _call(port: int, protocol: str, name: str) -> dict[str, Any]:
    session = bench.Session(port, protocol)
    await session.open()
    try:
        return await session.call_tool(name, {"text": "through"})
    finally:
        await session.close()


@pytest.mark.parametrize("protocol", ["2026-07-28", "2025-11-25"])
def test_a_namespaced_call_reaches_the_upstream_tool(forwarder: Any, protocol: str) -> None:
    result = asyncio.run(_call(forwarder.port, protocol, "echo_echo"))
    assert not result.get("isError"), result
    assert result["content"] == [{"type": "text", "text": "through"}]


def test_an_unknown_tool_is_the_upstreams_error(forwarder: Any) -> None:
    result = asyncio.run(_call(forwarder.port, "2026-07-28", "echo_nothing"))
    assert result.get("isError"), result
    assert "nothing" in str(result["content"])
