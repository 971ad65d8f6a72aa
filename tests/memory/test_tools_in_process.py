"""The memory tools in process, through FastMCP's in-memory Client: the tool logic as a client
sees it, without a server process (test_tools.py covers the same over real HTTP)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp_memory.errors import NotReady
from mcp_memory.index import AnnIndex
from mcp_memory.server import create
from mcp_memory.settings import MemorySettings


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    settings = MemorySettings(mcp_data_dir=tmp_path_factory.mktemp("memory") / "data")
    spec = create(settings)
    assert spec.lifespan is not None
    async with spec.lifespan(), Client(spec.mcp) as connected:
        await _until_ready(spec.readiness_checks)
        yield connected


async def _until_ready(checks) -> None:
    """The model loads in the background; the readiness checks say when it can embed."""
    for _ in range(600):
        try:
            for check in checks:
                await check()
            return
        except NotReady:
            await asyncio.sleep(0.2)
    raise AssertionError("the embedding model did not load within 120 s")


async def test_recall_finds_what_was_remembered_by_meaning(client: Client) -> None:
    await client.call_tool(
        "remember_many",
        {
            "items": [
                {"text": "The staging database is rebuilt every night at 2 AM.", "tags": ["ops"]},
                {"text": "Our office plants are watered on Tuesdays.", "tags": ["office"]},
            ]
        },
    )
    hits = (await client.call_tool("recall", {"query": "when is staging reset?", "k": 1})).data
    assert "staging database" in hits.memories[0].text


async def test_a_bad_argument_names_itself(client: Client) -> None:
    with pytest.raises(ToolError) as refused:
        await client.call_tool("recall", {"query": "x", "k": 0})
    assert str(refused.value) == "k: must be between 1 and 100, got 0"


async def test_a_recalls_index_search_leaves_the_event_loop_free(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a million memories a graph search takes 6-15 ms: on a thread of its own, not on the
    event loop, where it held up every other request (and /ready) as long."""
    searched_on: list[str] = []
    search = AnnIndex.search

    def slow_search(self: AnnIndex, *args: object, **kwargs: object) -> object:
        searched_on.append(threading.current_thread().name)
        time.sleep(0.3)
        return search(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AnnIndex, "search", slow_search)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(tick())
    try:
        await client.call_tool("recall", {"query": "anything at all", "k": 1})
    finally:
        ticking.cancel()
    assert searched_on and searched_on[0].startswith("index_search")
    assert ticks >= 10  # the loop ran on while the search slept 0.3 s
