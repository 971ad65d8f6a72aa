"""What one call may ask for follows MEMORY_MAX_TEXTS_PER_CALL and MEMORY_MAX_TEXT_CHARS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from harness.memory import MemoryProcess, StartServer

MAX_TEXTS = 3
MAX_CHARS = 40


@pytest.fixture
def small_limits(start_server: StartServer, data_dir: Path) -> MemoryProcess:
    return start_server(
        MCP_DATA_DIR=str(data_dir),
        MEMORY_MAX_TEXTS_PER_CALL=str(MAX_TEXTS),
        MEMORY_MAX_TEXT_CHARS=str(MAX_CHARS),
    )


async def test_calls_at_the_limits_are_served(small_limits: MemoryProcess) -> None:
    texts = [f"{i} " + "n" * (MAX_CHARS - 2) for i in range(MAX_TEXTS)]
    async with small_limits.client() as client:
        stored = await client.call_tool("remember_many", {"items": [{"text": t} for t in texts]})
        assert [m["text"] for m in stored.structured_content["memories"]] == texts
        hits = await client.call_tool("recall", {"query": "q" * MAX_CHARS, "k": 3})
        assert len(hits.structured_content["memories"]) == MAX_TEXTS


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        (
            "remember_many",
            {"items": [{"text": "ok"}] * (MAX_TEXTS + 1)},
            "items: must hold at most 3 memories per call (MEMORY_MAX_TEXTS_PER_CALL), got 4",
        ),
        (
            "remember_many",
            {"items": [{"text": "ok"}, {"text": "x" * (MAX_CHARS + 1)}]},
            "items[1].text: must be at most 40 characters (MEMORY_MAX_TEXT_CHARS), got 41",
        ),
        (
            "remember",
            {"text": "x" * (MAX_CHARS + 9)},
            "text: must be at most 40 characters (MEMORY_MAX_TEXT_CHARS), got 49",
        ),
        (
            "recall",
            {"query": "x" * (MAX_CHARS + 1)},
            "query: must be at most 40 characters (MEMORY_MAX_TEXT_CHARS), got 41",
        ),
    ],
    ids=["texts-per-call", "item-chars", "text-chars", "query-chars"],
)
async def test_calls_past_the_limits_get_the_exact_error(
    small_limits: MemoryProcess, tool: str, arguments: dict[str, Any], message: str
) -> None:
    async with small_limits.client() as client:
        with pytest.raises(ToolError) as raised:
            await client.call_tool(tool, arguments)
        assert str(raised.value) == message
        # A refused call stored nothing.
        assert (await client.call_tool("stats", {})).structured_content["memories"] == 0


async def test_the_tool_description_states_the_limit(small_limits: MemoryProcess) -> None:
    async with small_limits.client() as client:
        tools = {tool.name: tool for tool in await client.list_tools()}
    items = tools["remember_many"].input_schema["properties"]["items"]
    assert items["description"] == "Up to 3 memories."
