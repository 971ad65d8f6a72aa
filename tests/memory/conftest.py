"""Fixtures: real `mcp-memory` processes, and a private PostgreSQL database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from harness.memory import MemoryProcess, StartServer
from mcp_memory.embedding_models import DEFAULT_MODEL
from mcp_memory.store import MemoryStore
from mcp_memory.store_postgres import PostgresMemoryStore
from mcp_memory.store_sqlite import SqliteMemoryStore


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start an mcp-memory process with extra env and wait until it is ready."""
    started: list[MemoryProcess] = []

    def start(*, wait: bool = True, **env: str) -> MemoryProcess:
        server = MemoryProcess(env=env, log_path=tmp_path / f"server-{len(started)}.log")
        started.append(server.start())
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def memory_database(postgres_url: str) -> AsyncIterator[str]:
    """URL of a fresh, empty database on the project's PostgreSQL, dropped afterwards."""
    name = f"memory_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(postgres_url)
        yield urlunsplit(parts._replace(path=f"/{name}"))
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemoryProcess]:
    """One server on its own SQLite file, shared by the tests of a module."""
    base = tmp_path_factory.mktemp("memory")
    server = MemoryProcess(env={"MCP_DATA_DIR": str(base / "data")}, log_path=base / "server.log")
    server.start().wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[MemoryStore]:
    """An open SQLite store of the default model in the test's directory."""
    store = SqliteMemoryStore(tmp_path / "memory.sqlite3")
    await store.open(DEFAULT_MODEL)
    yield store
    await store.close()


@pytest.fixture
async def postgres_store(memory_database: str) -> AsyncIterator[MemoryStore]:
    """An open PostgreSQL store of the default model in a fresh database."""
    store = PostgresMemoryStore(memory_database)
    await store.open(DEFAULT_MODEL)
    yield store
    await store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def each_store(request: pytest.FixtureRequest) -> MemoryStore:
    """The open store of each backend in turn: a test taking it runs once on each."""
    return request.getfixturevalue(f"{request.param}_store")
