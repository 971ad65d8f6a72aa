"""Writes through the postgres server are refused whatever the SQL tries, on a superuser.

The server connects with the admin (superuser) URL here: the worst case, where only the
read-only transaction and the statement guard stand between the agent and the data.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest
from mcp_clients import connect
from mcp_postgres.errors import QueryRejected
from mcp_postgres.query import run_read_only
from pg_admin import psql
from servers_harness import RunningServer

GUARD = "sql: only read-only queries are allowed"
READ_ONLY = "sql: refused, this server only reads"
LEAK_FILE = Path("/tmp/mcp-postgres-readonly-leak.csv")

ATTACKS = [
    ("INSERT INTO customers (id, email) VALUES (3, 'mallory@example.com')", GUARD),
    ("UPDATE customers SET email = 'x'", GUARD),
    ("DELETE FROM orders", GUARD),
    ("TRUNCATE orders", GUARD),
    ("DROP TABLE orders", GUARD),
    ("CREATE TEMP TABLE scratch AS SELECT 1", GUARD),
    ("WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone", READ_ONLY),
    ("WITH up AS (UPDATE customers SET email = 'x' RETURNING id) SELECT * FROM up", READ_ONLY),
    ("COMMIT; DELETE FROM orders", GUARD),
    ("COMMIT", GUARD),
    ("SELECT 1; DELETE FROM orders", "sql: only one statement is allowed per query"),
    ("SELECT 1; COMMIT; DELETE FROM orders", "sql: only one statement is allowed per query"),
    ("SET TRANSACTION READ WRITE", GUARD),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", GUARD),
    (
        "SELECT set_config('transaction_read_only', 'off', true)",
        "sql: refused, the transaction stays read-only",
    ),
    ("DO $$ BEGIN DELETE FROM orders; END $$", GUARD),
    ("SELECT log_visit()", READ_ONLY),
    ("SELECT nextval('order_numbers')", READ_ONLY),
    ("SELECT * FROM customers FOR UPDATE", READ_ONLY),
    ("SELECT * INTO stolen FROM customers", READ_ONLY),
    ("EXPLAIN ANALYZE DELETE FROM orders", READ_ONLY),
    (f"COPY customers TO '{LEAK_FILE}'", GUARD),
    ("COPY customers FROM STDIN", GUARD),
    ("/* SELECT */ DELETE FROM orders", GUARD),
    ("/* nested /* */ SELECT */ DELETE FROM orders", GUARD),
    ("CALL anything()", GUARD),
    ("LOCK TABLE orders", GUARD),
]


def _snapshot(url: str) -> str:
    return psql(
        url,
        "SELECT (SELECT string_agg(id || email, ',' ORDER BY id) FROM customers) || '|' || "
        "(SELECT count(*) FROM orders) || '|' || "
        "(SELECT last_value || is_called::text FROM order_numbers) || '|' || "
        "(SELECT count(*) FROM pg_class WHERE relname IN ('stolen', 'scratch'))",
    )


async def test_every_write_attempt_is_refused_and_changes_nothing(
    postgres_server: RunningServer, sample_database: str
) -> None:
    before = _snapshot(sample_database)
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        for sql, message in ATTACKS:
            outcome = await client.call("query", {"sql": sql})
            assert outcome.is_error, sql
            assert outcome.text.startswith(message), (sql, outcome.text)
    assert _snapshot(sample_database) == before
    assert not LEAK_FILE.exists()


async def test_session_settings_cannot_carry_over_to_the_next_query(
    postgres_server: RunningServer, sample_database: str
) -> None:
    before = _snapshot(sample_database)
    async with connect("mcp-legacy", postgres_server.mcp_url) as client:
        # Each call may land on the same pooled connection; none may inherit these.
        for _ in range(3):
            loosened = await client.call(
                "query",
                {
                    "sql": "SELECT set_config('default_transaction_read_only', 'off', false), "
                    "set_config('statement_timeout', '0', false)"
                },
            )
            assert not loosened.is_error, loosened.text
        attacks = await asyncio.gather(
            *(
                client.call(
                    "query", {"sql": "WITH d AS (DELETE FROM orders RETURNING 1) SELECT * FROM d"}
                )
                for _ in range(5)
            )
        )
        assert all(a.is_error and a.text.startswith(READ_ONLY) for a in attacks)
        slow = await client.call("query", {"sql": "SELECT pg_sleep(5)"})
        assert slow.is_error and slow.text == "sql: cancelled after the statement timeout of 1 s"
    assert _snapshot(sample_database) == before


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("INSERT INTO customers (id, email) VALUES (5, 'e@example.com')", "cannot execute INSERT"),
        ("DELETE FROM orders", "cannot execute DELETE"),
        ("DO $$ BEGIN UPDATE customers SET email = 'x'; END $$", "cannot execute UPDATE"),
        ("CREATE TABLE owned (id int)", "cannot execute CREATE TABLE"),
        ("COPY customers FROM STDIN", "cannot execute COPY FROM"),
        ("COMMIT", "transaction control statements are not allowed"),
    ],
)
async def test_the_read_only_transaction_holds_without_the_guard(
    sample_database: str, sql: str, message: str
) -> None:
    conn = await asyncpg.connect(sample_database)
    try:
        before = await conn.fetchval("SELECT count(*) FROM customers")
        with pytest.raises(QueryRejected, match=message):
            await run_read_only(conn, sql, [], max_rows=10, max_bytes=100_000, timeout_seconds=5)
        assert await conn.fetchval("SELECT count(*) FROM customers") == before
        assert await conn.fetchval("SELECT to_regclass('owned')") is None
    finally:
        await conn.close()
