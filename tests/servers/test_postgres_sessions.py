"""Every call shares the server's role: one caller must not be able to end another's query,
and a query that another session or an administrator ends is told so, not that the database
is unavailable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from harness.mcp_clients import ToolOutcome, connect
from harness.processes import ServerProcess
from harness.servers import launch
from pg_admin import with_database

TERMINATED = (
    "your query was terminated by another session or an administrator (SQLSTATE 57P01);"
    " run it again"
)
CANCELLED = (
    "your query was cancelled by another session or an administrator (SQLSTATE 57014); run it again"
)


@pytest.fixture(scope="module")
def reader_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_reader_url: str, sample_database: str
) -> Iterator[ServerProcess]:
    # A statement timeout far longer than the tests wait, so only another session ends a query.
    url = with_database(postgres_reader_url, sample_database.rsplit("/", 1)[1])
    server = launch(
        "mcp-postgres",
        tmp_path_factory.mktemp("postgres-sessions"),
        {"DATABASE_URL": url, "MCP_QUERY_TIMEOUT_SECONDS": "60"},
    )
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
async def admin(sample_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(sample_database)
    yield conn
    await conn.close()


async def _running(admin: asyncpg.Connection, marker: str) -> int:
    """The pid of the backend running the query that contains `marker`, once it runs."""
    for _ in range(200):
        pid = await admin.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
            f"%{marker}%",
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError(f"no running query contains {marker}")


async def _slow_call(server: ServerProcess, seconds: float) -> tuple[str, asyncio.Task]:
    marker = f"victim_{uuid.uuid4().hex[:8]}"

    async def call() -> ToolOutcome:
        async with connect("fastmcp-modern", server.mcp_url) as client:
            return await client.call(
                "query", {"sql": f"/* {marker} */ SELECT pg_sleep({seconds}) IS NULL AS slept"}
            )

    return marker, asyncio.create_task(call())


async def test_a_caller_cannot_end_another_callers_query(
    reader_server: ServerProcess, admin: asyncpg.Connection
) -> None:
    marker, victim = await _slow_call(reader_server, 2)
    await _running(admin, marker)
    async with connect("fastmcp-modern", reader_server.mcp_url) as attacker:
        attacks = [
            await attacker.call(
                "query",
                {
                    "sql": f"SELECT pg_{kind}_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND usename = current_user"
                },
            )
            for kind in ("cancel", "terminate")
        ]
    outcome = await victim
    for kind, attack in zip(("cancel", "terminate"), attacks, strict=True):
        assert attack.is_error and attack.text == (
            f"sql: permission denied for function pg_{kind}_backend (SQLSTATE 42501)"
        ), attack.text
    assert not outcome.is_error, outcome.text
    assert outcome.data["rows"] == [{"slept": False}]


@pytest.mark.parametrize(("kind", "message"), [("terminate", TERMINATED), ("cancel", CANCELLED)])
async def test_a_query_an_administrator_ends_is_told_so(
    reader_server: ServerProcess, admin: asyncpg.Connection, kind: str, message: str
) -> None:
    marker, victim = await _slow_call(reader_server, 30)
    pid = await _running(admin, marker)
    assert await admin.fetchval(f"SELECT pg_{kind}_backend($1)", pid)
    outcome = await asyncio.wait_for(victim, 20)
    assert outcome.is_error and outcome.text == message
    # The pool replaced the ended connection: the next call is served.
    async with connect("fastmcp-modern", reader_server.mcp_url) as client:
        again = await client.call("query", {"sql": "SELECT 1 AS one"})
    assert again.data["rows"] == [{"one": 1}], again.text
    assert "database unavailable" not in reader_server.log_text()
