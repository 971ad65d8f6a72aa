"""Memories outlive the process (SQLite and PostgreSQL), and replicas share one PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from harness.memory import MemoryProcess, StartServer

FACTS = [
    "The staging database password rotates on the first of each month.",
    "Grafana dashboards for the payments team live in the folder Payments/Prod.",
    "The mobile release train leaves every second Wednesday.",
]


async def call(server: MemoryProcess, tool: str, **arguments: Any) -> Any:
    async with server.client() as client:
        return (await client.call_tool(tool, arguments)).structured_content


async def remember_facts_and_forget_one(server: MemoryProcess) -> list[str]:
    stored = await call(
        server, "remember_many", items=[{"text": t, "tags": ["ops"]} for t in FACTS]
    )
    ids = [m["id"] for m in stored["memories"]]
    await call(server, "forget", id=ids[2])
    return ids


async def assert_recalled_after_restart(server: MemoryProcess, ids: list[str]) -> None:
    stats = await call(server, "stats")
    assert stats["memories"] == 2
    assert stats["tags"] == {"ops": 2}
    hits = (await call(server, "recall", query="when does the staging DB password change", k=3))[
        "memories"
    ]
    assert [h["id"] for h in hits] == [ids[0], ids[1]]
    assert hits[0]["text"] == FACTS[0]


async def restart_and_recall(start_server: StartServer, backend: str, **env: str) -> None:
    first = start_server(**env)
    ids = await remember_facts_and_forget_one(first)
    assert first.stop() == 0
    second = start_server(**env)
    assert (await call(second, "stats"))["backend"] == backend
    await assert_recalled_after_restart(second, ids)


async def test_memories_survive_a_restart_on_sqlite(
    start_server: StartServer, data_dir: Path
) -> None:
    await restart_and_recall(start_server, "sqlite", MCP_DATA_DIR=str(data_dir))


@pytest.mark.postgres
async def test_memories_survive_a_restart_on_postgresql(
    start_server: StartServer, memory_database: str
) -> None:
    await restart_and_recall(start_server, "postgresql", DATABASE_URL=memory_database)


@pytest.mark.postgres
async def test_two_replicas_see_each_others_memories(
    start_server: StartServer, memory_database: str
) -> None:
    a = start_server(DATABASE_URL=memory_database)
    b = start_server(DATABASE_URL=memory_database)
    # Both indexes are warm before the writes, so what follows exercises incremental sync.
    assert (await call(a, "stats"))["memories"] == (await call(b, "stats"))["memories"] == 0

    stored = await call(
        a, "remember", text="The VPN config lives in vault at kv/vpn.", tags=["net"]
    )
    hits = (await call(b, "recall", query="where is the VPN configuration stored", k=1))["memories"]
    assert [h["id"] for h in hits] == [stored["id"]]

    await call(b, "forget", tag="net")
    assert (await call(a, "recall", query="VPN configuration", k=5))["memories"] == []

    async def remember_on(server: MemoryProcess, i: int) -> str:
        result = await call(server, "remember", text=f"replica note {i}", tags=["burst"])
        return result["id"]

    ids = await asyncio.gather(*(remember_on(a if i % 2 else b, i) for i in range(40)))
    assert len(set(ids)) == 40
    for server in (a, b):
        assert (await call(server, "stats"))["tags"] == {"burst": 40}
        hits = (await call(server, "recall", query="replica note", k=100, tags=["burst"]))[
            "memories"
        ]
        assert sorted(h["id"] for h in hits) == sorted(ids)
