"""`python -m mcp_memory export FILE`: every stored memory as an import line, page by page, and
the export-import round trip that moves a store to the other embedding model."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from harness.memory import StartServer
from mcp_memory import export
from mcp_memory.commands import run_command
from mcp_memory.embedder import DIMENSIONS
from mcp_memory.embedding_models import DEFAULT_MODEL, DYNAMIC_INT8
from mcp_memory.export import export_store
from mcp_memory.models import StoredMemory
from mcp_memory.store import MemoryStore

ITEMS = [
    {"text": "The deploy window is Tuesday at 14:00 UTC.", "tags": ["ops"], "metadata": {"n": 1}},
    {"text": "Bananas are rich in potassium.", "tags": ["food"]},
    {"text": "Alice prefers Slack to email.", "tags": ["people", "ops"], "metadata": {"k": "v"}},
]


def run(command: str, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_memory", command, *args],
        env={**os.environ, "MCP_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def rows(data_dir: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data_dir / "memory.sqlite3") as db:
        return db.execute("SELECT id, text, created_at FROM memory_items ORDER BY seq").fetchall()


async def test_export_then_import_moves_a_store_to_the_other_model(
    start_server: StartServer, tmp_path: Path
) -> None:
    old, new, exported = tmp_path / "old", tmp_path / "new", tmp_path / "memories.jsonl"
    server = start_server(MCP_DATA_DIR=str(old))
    async with server.client() as client:
        remembered = await client.call_tool("remember_many", {"items": ITEMS})
        ids = [m["id"] for m in remembered.structured_content["memories"]]
        await client.call_tool("forget", {"id": ids[1]})
    server.stop()

    result = run("export", old, str(exported))
    assert result.returncode == 0, result.stderr
    assert f"{exported}: 2 memories exported in " in result.stderr
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert [line["id"] for line in lines] == [ids[0], ids[2]]
    assert lines[1] == {
        "id": ids[2],
        "text": ITEMS[2]["text"],
        "tags": ["people", "ops"],
        "metadata": {"k": "v"},
        "created_at": lines[1]["created_at"],
    }
    assert not exported.with_name(exported.name + ".partial").exists()

    result = run("import", new, str(exported), MEMORY_MODEL=DYNAMIC_INT8)
    assert result.returncode == 0, result.stderr
    assert rows(new) == rows(old)  # the same ids, texts and times
    moved = start_server(MCP_DATA_DIR=str(new), MEMORY_MODEL=DYNAMIC_INT8)
    async with moved.client() as client:
        stats = (await client.call_tool("stats", {})).structured_content
        recalled = await client.call_tool("recall", {"query": "When may we ship?", "k": 1})
    assert stats["model"] == DYNAMIC_INT8 and stats["memories"] == 2
    assert recalled.structured_content["memories"][0]["id"] == ids[0]


def test_exporting_a_store_of_the_other_model_names_memory_model(
    start_server: StartServer, tmp_path: Path
) -> None:
    start_server(MCP_DATA_DIR=str(tmp_path / "data")).stop()
    target = tmp_path / "out.jsonl"
    result = run("export", tmp_path / "data", str(target), MEMORY_MODEL=DYNAMIC_INT8)
    assert result.returncode == 1
    assert f"(MEMORY_MODEL); set MEMORY_MODEL={DEFAULT_MODEL}" in result.stderr
    assert not target.exists() and not target.with_name("out.jsonl.partial").exists()


def test_an_import_line_with_a_bad_time_is_named(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"text": "no zone", "created_at": "2026-01-02T03:04:05"})
        + "\n"
        + json.dumps({"text": "not a time", "created_at": 5})
        + "\n"
        + json.dumps({"text": "kept", "created_at": "2026-01-02T03:04:05+02:00"})
        + "\n"
    )
    result = run("import", tmp_path / "data", str(source))
    assert result.returncode == 1
    message = "created_at: must be an ISO 8601 time with its UTC offset"
    assert f"{source}:1: {message}" in result.stderr
    assert f"{source}:2: {message}" in result.stderr
    ((_, text, created_at),) = rows(tmp_path / "data")
    assert text == "kept"
    assert datetime.fromisoformat(created_at) == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


async def test_export_pages_through_the_store_in_stored_order(each_store: MemoryStore) -> None:
    vectors = np.random.default_rng(5).standard_normal((7, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    memories = [
        StoredMemory(
            id=uuid.uuid4().hex,
            text=f"memory {i}",
            tags=(f"t{i % 2}",),
            metadata={"i": i},
            created_at=start + timedelta(minutes=i),
        )
        for i in range(7)
    ]
    for i in range(0, 7, 3):
        await each_store.insert(memories[i : i + 3], vectors[i : i + 3])
    await each_store.forget_ids([memories[1].id, memories[5].id])
    out = io.StringIO()
    assert await export_store(each_store, out, page=2) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    kept = [m for i, m in enumerate(memories) if i not in (1, 5)]
    assert [line["id"] for line in lines] == [m.id for m in kept]
    assert [line["metadata"] for line in lines] == [m.metadata for m in kept]
    assert [datetime.fromisoformat(line["created_at"]) for line in lines] == [
        m.created_at for m in kept
    ]


def test_an_export_to_a_directory_is_refused_naming_it(tmp_path: Path) -> None:
    result = run("export", tmp_path / "data", str(tmp_path))
    assert result.returncode == 2
    assert f"file: {tmp_path} is a directory" in result.stderr


def test_an_interrupted_export_leaves_no_file_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def interrupted(*_: object, **__: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setenv("MCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(export, "export_store", interrupted)
    target = tmp_path / "memories.jsonl"
    assert run_command("export", [str(target)]) == 130
    assert "interrupted: nothing was written; run it again" in capsys.readouterr().err
    assert list(tmp_path.glob("memories.jsonl*")) == []
