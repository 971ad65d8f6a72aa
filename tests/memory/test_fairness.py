"""Sharing the model: a small call is not queued behind a large one, and memory stays bounded."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import httpx
from harness.memory import MemoryProcess, StartServer

# The defaults of MEMORY_MAX_TEXTS_PER_CALL and MEMORY_MAX_TEXT_CHARS: the largest call allowed.
MAX_TEXTS = 64
MAX_CHARS = 20_000

VOCABULARY = (
    "the deploy failed after a review of staging cluster invoices audit friday release "
    "team wiki retro ticket cache network vpn alice bob moved depends replaced backup "
    "database rotation schedule incident postmortem latency budget alert owner"
)
WORDS = VOCABULARY.split()


def prose(seed: int, chars: int) -> str:
    rng = random.Random(seed)
    text = ""
    while len(text) < chars:
        text += " ".join(rng.choice(WORDS) for _ in range(50)) + ". "
    return text[:chars].strip()


def maximal_call(tag: str) -> dict[str, object]:
    return {"items": [{"text": prose(i, MAX_CHARS), "tags": [tag]} for i in range(MAX_TEXTS)]}


async def embedded_texts(http: httpx.AsyncClient, server: MemoryProcess) -> float:
    """Texts the model has embedded so far; it counts each run as it ends."""
    for line in (await http.get(f"{server.url}/metrics")).text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == "mcp_memory_embedded_texts_total":
            return float(value)
    raise AssertionError("mcp_memory_embedded_texts_total not in /metrics")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


async def test_a_recall_overtakes_a_maximal_remember_many(sqlite_server: MemoryProcess) -> None:
    tag = f"t-{uuid.uuid4().hex[:8]}"
    finished: list[str] = []
    async with (
        sqlite_server.client() as writer,
        sqlite_server.client() as reader,
        httpx.AsyncClient(timeout=5) as http,
    ):
        await reader.call_tool("recall", {"query": "warm up"})
        before = await embedded_texts(http, sqlite_server)

        async def remember_many() -> int:
            result = await writer.call_tool("remember_many", maximal_call(tag))
            finished.append("remember_many")
            return len(result.structured_content["memories"])

        writing = asyncio.create_task(remember_many())
        # The model has embedded part of the large call: it holds the model now.
        async with asyncio.timeout(120):
            while await embedded_texts(http, sqlite_server) == before:
                await asyncio.sleep(0.01)
        hits = await reader.call_tool("recall", {"query": "who owns the latency budget"})
        finished.append("recall")
        # Counted before the large call's last run: the recall did not wait for all of it.
        embedded = await embedded_texts(http, sqlite_server) - before
        assert await writing == MAX_TEXTS
        assert embedded < MAX_TEXTS
        assert finished == ["recall", "remember_many"]
        assert hits.structured_content is not None
        stats = (await reader.call_tool("stats", {})).structured_content
        assert stats["tags"][tag] == MAX_TEXTS
        await reader.call_tool("forget", {"tag": tag})


async def test_a_maximal_remember_many_keeps_memory_bounded(
    start_server: StartServer, data_dir: Path
) -> None:
    server = start_server(MCP_DATA_DIR=str(data_dir))
    async with server.client() as client:
        await client.call_tool("recall", {"query": "warm up"})
        before = peak_rss_mib(server.pid)
        await client.call_tool("remember_many", maximal_call("big"))
    # When a run padded 32 texts to 256 tokens, this call added about 790 MiB.
    assert peak_rss_mib(server.pid) - before < 200
