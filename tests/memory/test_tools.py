"""The memory tools over real HTTP: results, concurrency, and the errors bad input gets."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from fastmcp.exceptions import ToolError
from harness.jsonrpc import modern_request
from harness.memory import MemoryProcess, StartServer


def fresh_tag() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def call(server: MemoryProcess, tool: str, **arguments: Any) -> Any:
    async with server.client() as client:
        return (await client.call_tool(tool, arguments)).structured_content


async def test_remember_returns_the_memory_and_recall_finds_it(sqlite_server: MemoryProcess):
    tag = fresh_tag()
    stored = await call(
        sqlite_server,
        "remember",
        text="  The on-call rotation changes every Monday at 9 AM.  ",
        tags=[tag, "oncall", tag],
        metadata={"source": "wiki", "page": 12},
    )
    assert stored["text"] == "The on-call rotation changes every Monday at 9 AM."
    assert stored["tags"] == [tag, "oncall"]
    assert stored["metadata"] == {"source": "wiki", "page": 12}
    assert len(stored["id"]) == 32
    hits = (await call(sqlite_server, "recall", query="who is on call this week", tags=[tag]))[
        "memories"
    ]
    assert [h["id"] for h in hits] == [stored["id"]]
    assert hits[0]["metadata"] == {"source": "wiki", "page": 12}


async def test_recall_tag_filter_needs_every_tag(sqlite_server: MemoryProcess) -> None:
    a, b = fresh_tag(), fresh_tag()
    both = await call(sqlite_server, "remember", text="Deploys freeze on Fridays.", tags=[a, b])
    await call(sqlite_server, "remember", text="Deploys freeze on Fridays too.", tags=[a])
    hits = (await call(sqlite_server, "recall", query="deploy freeze", k=10, tags=[a, b]))[
        "memories"
    ]
    assert [h["id"] for h in hits] == [both["id"]]
    only_a = await call(sqlite_server, "recall", query="deploy freeze", k=10, tags=[a])
    assert len(only_a["memories"]) == 2


async def test_forget_by_id_and_by_tag(sqlite_server: MemoryProcess) -> None:
    tag = fresh_tag()
    result = await call(
        sqlite_server,
        "remember_many",
        items=[{"text": f"note {i} about the garden", "tags": [tag]} for i in range(3)],
    )
    ids = [m["id"] for m in result["memories"]]
    gone = await call(sqlite_server, "forget", id=ids[0])
    assert gone == {"forgotten": 1, "ids": [ids[0]]}
    assert await call(sqlite_server, "forget", id=ids[0]) == {"forgotten": 0, "ids": []}
    gone = await call(sqlite_server, "forget", tag=tag)
    assert sorted(gone["ids"]) == sorted(ids[1:])
    hits = await call(sqlite_server, "recall", query="garden", k=10, tags=[tag])
    assert hits["memories"] == []
    assert tag not in (await call(sqlite_server, "stats"))["tags"]


async def test_stats_report_model_device_and_counts(sqlite_server: MemoryProcess) -> None:
    tag = fresh_tag()
    before = await call(sqlite_server, "stats")
    await call(sqlite_server, "remember", text="stats check", tags=[tag])
    after = await call(sqlite_server, "stats")
    assert after["memories"] == before["memories"] + 1
    assert after["tags"][tag] == 1
    assert after["distinct_tags"] == before["distinct_tags"] + 1
    assert after["model"] == "all-MiniLM-L6-v2-int8"
    assert after["dimensions"] == 384
    assert after["device"] == "cpu"
    assert after["execution_provider"] == "CPUExecutionProvider"
    assert after["backend"] == "sqlite"


async def test_fifty_concurrent_remembers_are_all_stored(sqlite_server: MemoryProcess) -> None:
    tag = fresh_tag()
    texts = [f"concurrent memory {i}: the build number {i * 37} passed" for i in range(50)]
    async with sqlite_server.client() as client:
        results = await asyncio.gather(
            *(client.call_tool("remember", {"text": t, "tags": [tag]}) for t in texts)
        )
    ids = {r.structured_content["id"] for r in results}
    assert len(ids) == 50
    assert (await call(sqlite_server, "stats"))["tags"][tag] == 50
    hits = await call(sqlite_server, "recall", query=texts[17], k=1, tags=[tag])
    assert hits["memories"][0]["text"] == texts[17]
    metrics = httpx.get(f"{sqlite_server.url}/metrics").text
    runs = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("mcp_memory_embedding_batch_size_count")
    )
    assert runs > 0


async def test_metrics_name_the_device(sqlite_server: MemoryProcess) -> None:
    metrics = httpx.get(f"{sqlite_server.url}/metrics").text
    assert (
        'mcp_memory_device_info{device="cpu",execution_provider="CPUExecutionProvider",'
        'model="all-MiniLM-L6-v2-int8"} 1.0'
    ) in metrics
    assert "mcp_tool_calls_total" in metrics


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("remember", {"text": ""}, "text: must not be empty"),
        ("remember", {"text": "   \n "}, "text: must not be empty"),
        (
            "remember",
            {"text": "x" * 20_001},
            "text: must be at most 20000 characters (MEMORY_MAX_TEXT_CHARS), got 20001",
        ),
        ("remember", {"text": "ok", "tags": ["fine", " "]}, "tags: a tag must not be empty"),
        ("remember", {"text": "ok", "tags": ["x" * 65]}, "tags: a tag must be at most 64"),
        (
            "remember",
            {"text": "ok", "metadata": {"blob": "x" * 20_000}},
            "metadata: must be at most 16384 bytes as JSON",
        ),
        ("remember", {}, "text\n  Missing required argument"),
        ("remember_many", {"items": []}, "items: must hold at least one memory"),
        (
            "remember_many",
            {"items": [{"text": "fine"}, {"text": " "}]},
            "items[1].text: must not be empty",
        ),
        (
            "remember_many",
            {"items": [{"text": "a"}] * 65},
            "items: must hold at most 64 memories per call (MEMORY_MAX_TEXTS_PER_CALL), got 65",
        ),
        (
            "remember_many",
            {"items": [{"text": "a"}, {"text": "y" * 20_001}]},
            "items[1].text: must be at most 20000 characters (MEMORY_MAX_TEXT_CHARS), got 20001",
        ),
        ("recall", {"query": ""}, "query: must not be empty"),
        (
            "recall",
            {"query": "q" * 20_001},
            "query: must be at most 20000 characters (MEMORY_MAX_TEXT_CHARS), got 20001",
        ),
        ("recall", {"query": "x", "k": 0}, "k: must be between 1 and 100, got 0"),
        ("recall", {"query": "x", "k": 101}, "k: must be between 1 and 100, got 101"),
        ("recall", {"query": "x", "k": -3}, "k: must be between 1 and 100, got -3"),
        ("recall", {"query": "x", "k": "many"}, "k\n  Input should be a valid integer"),
        ("forget", {}, "id/tag: give exactly one of id or tag; got neither"),
        ("forget", {"id": "a", "tag": "b"}, "id/tag: give exactly one of id or tag; got both"),
        ("forget", {"id": "  "}, "id: must not be empty"),
        ("forget", {"tag": ""}, "tag: a tag must not be empty"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
async def test_bad_input_gets_a_message_naming_the_argument(
    sqlite_server: MemoryProcess, tool: str, arguments: dict[str, Any], message: str
) -> None:
    async with sqlite_server.client() as client:
        with pytest.raises(ToolError) as raised:
            await client.call_tool(tool, arguments)
    assert message in str(raised.value)


async def test_bad_input_stores_nothing(sqlite_server: MemoryProcess) -> None:
    before = (await call(sqlite_server, "stats"))["memories"]
    async with sqlite_server.client() as client:
        with pytest.raises(ToolError):
            await client.call_tool("remember_many", {"items": [{"text": "ok"}, {"text": ""}]})
    assert (await call(sqlite_server, "stats"))["memories"] == before


UNSTORABLE = [
    ("remember", {"text": "a\x00b"}, "text: must not contain NUL (U+0000), found at index 1"),
    (
        "remember",
        {"text": "ok", "tags": ["fine", "b\x00d"]},
        "tags: must not contain NUL (U+0000), found at index 1",
    ),
    (
        "remember",
        {"text": "ok", "metadata": {"nested": ["x", {"k\x00": 1}]}},
        "metadata: must not contain NUL (U+0000), found at index 1",
    ),
    (
        "remember_many",
        {"items": [{"text": "fine"}, {"text": "\x00"}]},
        "items[1].text: must not contain NUL (U+0000), found at index 0",
    ),
    ("recall", {"query": "q\x00"}, "query: must not contain NUL (U+0000), found at index 1"),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_both_stores_refuse_what_postgresql_cannot_store_naming_the_argument(
    start_server: StartServer, memory_database: str, data_dir, backend: str
) -> None:
    env = {"DATABASE_URL": memory_database} if backend == "postgresql" else {}
    server = start_server(MCP_DATA_DIR=str(data_dir), **env)
    async with server.client() as client:
        for tool, arguments, message in UNSTORABLE:
            with pytest.raises(ToolError) as raised:
                await client.call_tool(tool, arguments)
            assert str(raised.value) == message, (tool, arguments)
        assert (await client.call_tool("stats", {})).structured_content["memories"] == 0


def raw_call(server: MemoryProcess, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tool call's JSON-RPC answer, the body written by `json` as is: it writes NaN and
    Infinity, which no MCP client sends but pydantic's parser on the server takes."""
    headers, message = modern_request("tools/call", {"name": tool, "arguments": arguments})
    response = httpx.post(server.mcp_url, content=json.dumps(message), headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
async def test_metadata_with_nan_or_infinity_is_refused_and_nothing_is_stored(
    sqlite_server: MemoryProcess, number: float
) -> None:
    """JSON has no NaN or Infinity. Stored, such a memory could not be sent back: the caller
    got an error for a memory that was stored (a retry stored it twice), every later recall
    finding it failed, and PostgreSQL refused it with an error naming nothing."""
    before = (await call(sqlite_server, "stats"))["memories"]
    for tool, arguments in (
        ("remember", {"text": "a score", "metadata": {"score": number}}),
        ("remember_many", {"items": [{"text": "a score", "metadata": {"s": [1, number]}}]}),
    ):
        result = raw_call(sqlite_server, tool, arguments)["result"]
        assert result["isError"], result
        assert result["content"][0]["text"] == (
            "metadata: must not contain NaN or Infinity (not JSON)"
        )
    assert (await call(sqlite_server, "stats"))["memories"] == before
