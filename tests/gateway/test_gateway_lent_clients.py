"""Clients lent to relayed calls: one call per client at a time, reused, dropped when their
session ended, all closed on shutdown (real FastMCP proxy clients, a real upstream)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastmcp.client.transports import StreamableHttpTransport
from fastmcp.server import create_proxy
from harness import runtime
from harness.processes import ServerProcess
from mcp.shared.exceptions import MCPError
from mcp_gateway.connections import UpstreamConnections
from mcp_gateway.lent_clients import LentClients

VERSION = "2026-07-28"


def lent_clients(upstream: ServerProcess, connections: UpstreamConnections) -> LentClients:
    transport = StreamableHttpTransport(upstream.mcp_url, httpx_client_factory=connections.client)
    return LentClients(create_proxy(transport, name="sample").client_factory, VERSION)


async def echo(clients: LentClients, text: str) -> tuple[int, str]:
    async with clients.lent() as client:
        result = await client.session.call_tool(name="echo", arguments={"text": text})
        await asyncio.sleep(0.05)  # long enough for the other call to want a client too
        return id(client), result.content[0].text  # type: ignore[union-attr]


async def test_concurrent_calls_get_clients_of_their_own_and_later_calls_reuse_them(
    sample: ServerProcess,
) -> None:
    connections = UpstreamConnections()
    clients = lent_clients(sample, connections)
    try:
        (first, a), (second, b) = await asyncio.gather(echo(clients, "a"), echo(clients, "b"))
        assert (a, b) == ("a", "b")
        assert first != second
        later, _ = await echo(clients, "c")
        assert later in {first, second}
        assert len(clients._held) == 2
    finally:
        await clients.aclose()
        await connections.aclose()
    assert not clients._held, "a client's task outlived aclose"


async def test_a_client_whose_session_ended_is_dropped_and_its_error_raised(
    tmp_path: Path,
) -> None:
    upstream = runtime.launch(tmp_path, {}, None)
    connections = UpstreamConnections()
    clients = lent_clients(upstream, connections)
    try:
        await echo(clients, "a")
        upstream.stop()
        with pytest.raises(Exception) as raised:
            await echo(clients, "b")
        # What ended the session (the refused connection), not the call's "Connection closed".
        assert not isinstance(raised.value, MCPError)
        assert "connect" in str(raised.value).lower()
        assert not clients._idle and not clients._held
    finally:
        upstream.stop()
        await clients.aclose()
        await connections.aclose()
