"""The memory tools in process, through FastMCP's in-memory Client: the tool logic as a client
sees it, without a server process (test_tools.py covers the same over real HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp_memory.errors import NotReady
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
