"""How long an upstream may hold up the gateway's tools/list, which FastMCP gathers from every
upstream at once: one that goes silent costs the others at most the listing's time limit."""

from __future__ import annotations

import asyncio
import time

import pytest
from gateway_in_process import in_process_gateway
from mcp_gateway import upstream as upstream_module
from wrapped_upstream import silent_after_first_listing, silent_to_discover, wrapped_upstream

pytestmark = pytest.mark.timeout(60)

LIMIT = 0.5


async def test_an_upstream_silent_after_its_listing_holds_up_no_listing_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # It answers its first tools/list and nothing after: not the server/discover the gateway
    # sends next, which nothing else bounded, so every client's tools/list waited for ever.
    monkeypatch.setattr(upstream_module, "LISTING_TIMEOUT_SECONDS", LIMIT)
    with (
        wrapped_upstream(silent_after_first_listing) as silent,
        wrapped_upstream(lambda app: app) as answering,
    ):
        listings = []
        async with asyncio.timeout(10):
            started = time.monotonic()
            async with in_process_gateway({"silent": silent, "answering": answering}) as served:
                listings.append(time.monotonic() - started)
                started = time.monotonic()
                tools = await served.mcp.list_tools()
                listings.append(time.monotonic() - started)
    assert {tool.name for tool in tools} == {"answering_echo", "silent_echo"}
    # Its first listing and the question after it, then its second listing: each within the
    # limit (and the gateway's start, which lists every upstream, in a few seconds at most).
    assert listings[1] < LIMIT + 1.0, listings


async def test_a_discover_left_unanswered_is_not_asked_again_at_every_listing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Asked at every listing, each would wait out the rest of its time limit again.
    limit = 3.0  # long enough that a listing on a busy machine stays well below it
    monkeypatch.setattr(upstream_module, "LISTING_TIMEOUT_SECONDS", limit)
    asked: list[str] = []
    with wrapped_upstream(silent_to_discover(asked)) as upstream:
        async with asyncio.timeout(30), in_process_gateway({"quiet": upstream}) as served:
            seconds = []
            for _ in range(3):
                started = time.monotonic()
                tools = await served.mcp.list_tools()
                seconds.append(time.monotonic() - started)
    assert [tool.name for tool in tools] == ["quiet_echo"]
    assert asked == ["server/discover"]  # at the gateway's start, once
    assert max(seconds) < limit / 2, seconds
