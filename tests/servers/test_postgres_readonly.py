"""Writes through the postgres server are refused whatever the SQL tries, and a role that
could reach the server's files or processes, read credentials or end other callers' queries is
refused unless explicitly allowed.

The write attacks run on the admin (superuser) URL with MCP_POSTGRES_ALLOW_SUPERUSER=true:
the worst case, where only the statement guard and the read-only, rolled-back transaction
stand between the agent and the data.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from harness.mcp_clients import connect
from harness.processes import ServerProcess
from harness.servers import launch
from mcp_postgres.errors import QueryRejected
from mcp_postgres.query import QueryResult, run_read_only
from mcp_postgres.result_limits import QueryLimits
from pg_admin import psql, with_database

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
    ("SELECT setval('order_numbers', 42)", READ_ONLY),
    (f"COPY (SELECT 1) TO PROGRAM 'touch {LEAK_FILE}'", GUARD),
]


def _snapshot(url: str) -> str:
    return psql(
        url,
        "SELECT (SELECT string_agg(id || email, ',' ORDER BY id) FROM customers) || '|' || "
        "(SELECT count(*) FROM orders) || '|' || "
        "(SELECT last_value || is_called::text FROM order_numbers) || '|' || "
        "(SELECT count(*) FROM pg_class WHERE relname IN ('stolen', 'scratch')) || '|' || "
        "(SELECT count(*) FROM pg_largeobject_metadata)",
    )


async def test_every_write_attempt_is_refused_and_changes_nothing(
    postgres_server: ServerProcess, sample_database: str
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
    postgres_server: ServerProcess, sample_database: str
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


TEST_LIMITS = QueryLimits(max_rows=10, max_bytes=100_000, max_values=1000, timeout_seconds=5)


async def _run_read_only(conn: asyncpg.Connection, sql: str) -> QueryResult:
    return await run_read_only(conn, sql, [], TEST_LIMITS)


@pytest.mark.parametrize(
    ("sql", "column"),
    [
        ("TABLE customers", "email"),
        ("SHOW work_mem", "work_mem"),
        ("EXPLAIN SELECT 1", "QUERY PLAN"),
    ],
)
async def test_each_kind_of_statement_the_guard_allows_runs(
    sample_database: str, sql: str, column: str
) -> None:
    conn = await asyncpg.connect(sample_database)
    try:
        result = await _run_read_only(conn, sql)
    finally:
        await conn.close()
    assert result.rows and column in result.rows[0], result


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
            await _run_read_only(conn, sql)
        assert await conn.fetchval("SELECT count(*) FROM customers") == before
        assert await conn.fetchval("SELECT to_regclass('owned')") is None
    finally:
        await conn.close()


async def test_writes_read_only_lets_through_are_rolled_back(
    postgres_server: ServerProcess, sample_database: str
) -> None:
    # READ ONLY does not stop creating or writing large objects; the rollback undoes them.
    before = _snapshot(sample_database)
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        for sql in ("SELECT lo_from_bytea(0, 'kept?')", "SELECT lo_create(0)"):
            written = await client.call("query", {"sql": sql})
            assert not written.is_error, written.text
    assert _snapshot(sample_database) == before


REFUSED = (
    "refusing to serve: the DATABASE_URL role is {}, whose file and process functions"
    " (pg_read_file, lo_export, pg_terminate_backend, ...) a read-only transaction does not"
    " stop; connect with a role granted only USAGE and SELECT on the schemas it should read"
    " (see the mcp_postgres README), or set MCP_POSTGRES_ALLOW_SUPERUSER=true"
)
READS_CREDENTIALS = (
    "can read credentials ({}): grant it only USAGE and SELECT on the schemas it should read"
    " instead (see the mcp_postgres README), or set MCP_POSTGRES_ALLOW_CREDENTIAL_READS=true"
)
SIGNALS_SESSIONS = (
    "can run {}, with which one caller can end another's query (every call shares the role):"
    " REVOKE EXECUTE ON FUNCTION {} FROM {} (see the mcp_postgres README), or set"
    " MCP_POSTGRES_ALLOW_SESSION_SIGNALS=true"
)
ROLE = "refusing to serve: the DATABASE_URL role "
ALL_SECRET_COLUMNS = "pg_authid.rolpassword, pg_shadow.passwd, pg_user_mapping.umoptions"
PUBLIC_SIGNALS = SIGNALS_SESSIONS.format(
    "pg_cancel_backend and pg_terminate_backend",
    "pg_catalog.pg_cancel_backend(integer), pg_catalog.pg_terminate_backend(integer,bigint)",
    "PUBLIC",
)


def _as_role(url: str, role: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}").geturl()


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@pytest.fixture(scope="module")
def reader_url(postgres_reader_url: str, sample_database: str) -> str:
    """The sample database as `mcp_reader`, the least-privilege role of scripts/postgres.sh."""
    return with_database(postgres_reader_url, _database_name(sample_database))


@pytest.fixture(scope="module")
def stock_database(postgres_url: str) -> Iterator[str]:
    """A database as PostgreSQL makes it (from template0): PUBLIC may run pg_cancel_backend
    and pg_terminate_backend, which the private instance's template1 revokes."""
    name = f"servers_stock_{uuid.uuid4().hex[:12]}"
    psql(postgres_url, f"CREATE DATABASE {name} TEMPLATE template0")
    yield with_database(postgres_url, name)
    psql(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# A NOLOGIN superuser role; its members are no superusers but may become one.
SUPERUSER_GROUP = f"mcp_superusers_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def superuser_group(postgres_url: str) -> Iterator[str]:
    psql(postgres_url, f"CREATE ROLE {SUPERUSER_GROUP} SUPERUSER NOLOGIN")
    yield SUPERUSER_GROUP
    psql(postgres_url, f"DROP ROLE {SUPERUSER_GROUP}")


@pytest.fixture
def role_with(postgres_url: str) -> Iterator[Callable[[str, str], str]]:
    """create(database_url, setup): URL of that database as a new login role, after `setup`
    ran there as the admin with {role} naming it. NOINHERIT, because set_config('role', ...)
    inside a SELECT reaches a granted role's powers all the same."""
    created: list[tuple[str, str]] = []

    def create(database_url: str, setup: str) -> str:
        role = f"mcp_member_{uuid.uuid4().hex[:8]}"
        psql(postgres_url, f"CREATE ROLE {role} LOGIN PASSWORD 'mcp' NOINHERIT")
        created.append((role, database_url))
        if setup:
            psql(database_url, setup.format(role=role))
        return _as_role(database_url, role, "mcp")

    yield create
    for role, database_url in created:
        # Its grants and user mappings in that database first, or the role cannot go.
        psql(database_url, f"DROP OWNED BY {role}")
        psql(postgres_url, f"DROP ROLE {role}")


async def _assert_refused(url: str, message: str, victim_url: str, log_dir: Path) -> None:
    """Without the override /ready says why, and every call, even one that would end another
    session or read password hashes, fails with the same message."""
    victim = await asyncpg.connect(victim_url)
    server = launch("mcp-postgres", log_dir, {"DATABASE_URL": url})
    try:
        ready = httpx.get(f"{server.base_url}/ready", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["reason"] == f"database_reachable: PrivilegedRole: {message}"
        async with connect("mcp-modern", server.mcp_url) as client:
            terminate = await client.call(
                "query",
                {"sql": "SELECT pg_terminate_backend($1)", "params": [victim.get_server_pid()]},
            )
            hashes = await client.call(
                "query", {"sql": "SELECT rolname, rolpassword FROM pg_authid"}
            )
            schemas = await client.call("list_schemas", {})
        assert terminate.is_error and terminate.text == message
        assert hashes.is_error and hashes.text == message
        assert schemas.is_error and schemas.text == message
        assert await victim.fetchval("SELECT 1") == 1
        assert "postgres_role_refused" in server.log_text()
    finally:
        server.stop()
        await victim.close()


async def test_a_superuser_is_refused_without_the_override(
    sample_database: str, reader_url: str, tmp_path: Path
) -> None:
    await _assert_refused(sample_database, REFUSED.format("a superuser"), reader_url, tmp_path)


@pytest.mark.parametrize(
    ("granted", "standing"),
    [
        ("pg_signal_backend", "a member of pg_signal_backend"),
        ("pg_read_server_files", "a member of pg_read_server_files"),
        pytest.param(
            SUPERUSER_GROUP, f"a member of {SUPERUSER_GROUP} (superuser)", id="superuser-group"
        ),
    ],
)
async def test_a_member_of_a_privileged_role_is_refused_without_the_override(
    superuser_group: str,
    role_with: Callable[[str, str], str],
    sample_database: str,
    postgres_url: str,
    reader_url: str,
    tmp_path: Path,
    granted: str,
    standing: str,
) -> None:
    url = role_with(sample_database, "")
    psql(postgres_url, f"GRANT {granted} TO {urlsplit(url).username}")
    await _assert_refused(url, REFUSED.format(standing), reader_url, tmp_path)


@pytest.mark.parametrize(
    ("setup", "readable"),
    [
        # What values/postgres.yaml and the README recommended before issue #12.
        pytest.param(
            "GRANT pg_read_all_data TO {role}",
            f"{ALL_SECRET_COLUMNS}, through pg_read_all_data",
            id="pg_read_all_data",
        ),
        pytest.param(
            "GRANT SELECT (rolpassword) ON pg_catalog.pg_authid TO {role}",
            "pg_authid.rolpassword",
            id="one-column",
        ),
        # The options of its own user mapping: a foreign server's password.
        pytest.param(
            "CREATE FOREIGN DATA WRAPPER {role}_fdw; "
            "CREATE SERVER {role}_server FOREIGN DATA WRAPPER {role}_fdw; "
            "GRANT USAGE ON FOREIGN SERVER {role}_server TO {role}; "
            "CREATE USER MAPPING FOR {role} SERVER {role}_server OPTIONS (password 'hunter2')",
            "the options of 1 user mapping(s)",
            id="user-mapping",
        ),
    ],
)
async def test_a_role_that_can_read_credentials_is_refused_without_the_override(
    role_with: Callable[[str, str], str],
    sample_database: str,
    reader_url: str,
    tmp_path: Path,
    setup: str,
    readable: str,
) -> None:
    url = role_with(sample_database, setup)
    await _assert_refused(url, ROLE + READS_CREDENTIALS.format(readable), reader_url, tmp_path)


@pytest.mark.parametrize(
    ("database", "setup", "message"),
    [
        # PostgreSQL's default: PUBLIC may run both, on its own backends.
        pytest.param("stock", "", PUBLIC_SIGNALS, id="public"),
        pytest.param(
            "sample",
            "GRANT EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer) TO {role}",
            SIGNALS_SESSIONS.format(
                "pg_cancel_backend",
                "pg_catalog.pg_cancel_backend(integer)",
                "it and the roles it belongs to",
            ),
            id="granted",
        ),
        # Both problems, as the recipe before issue #12 left a role: one message, both fixes.
        pytest.param(
            "stock",
            "GRANT pg_read_all_data TO {role}",
            READS_CREDENTIALS.format(f"{ALL_SECRET_COLUMNS}, through pg_read_all_data")
            + "; and it "
            + PUBLIC_SIGNALS,
            id="old-recipe",
        ),
    ],
)
async def test_a_role_that_can_signal_its_sessions_is_refused_without_the_override(
    role_with: Callable[[str, str], str],
    sample_database: str,
    stock_database: str,
    reader_url: str,
    tmp_path: Path,
    database: str,
    setup: str,
    message: str,
) -> None:
    url = role_with(stock_database if database == "stock" else sample_database, setup)
    await _assert_refused(url, ROLE + message, reader_url, tmp_path)


async def test_with_the_override_a_superuser_is_served_and_so_are_its_side_effects(
    postgres_server: ServerProcess, reader_url: str
) -> None:
    # What the refusal is for: the read-only transaction lets this through.
    victim = await asyncpg.connect(reader_url)
    try:
        async with connect("fastmcp-legacy", postgres_server.mcp_url) as client:
            terminate = await client.call(
                "query",
                {
                    "sql": "SELECT pg_terminate_backend($1, 5000) AS done",
                    "params": [victim.get_server_pid()],
                },
            )
        assert terminate.data["rows"] == [{"done": True}], terminate.text
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await victim.fetchval("SELECT 1")
    finally:
        victim.terminate()
    assert "postgres_role_privileged_allowed" in postgres_server.log_text()


@pytest.mark.parametrize(
    ("database", "setup", "env", "logged"),
    [
        pytest.param(
            "sample",
            "GRANT pg_read_all_data TO {role}",
            {"MCP_POSTGRES_ALLOW_CREDENTIAL_READS": "true"},
            ["postgres_role_credential_reads_allowed"],
            id="credential-reads",
        ),
        pytest.param(
            "stock",
            "",
            {"MCP_POSTGRES_ALLOW_SESSION_SIGNALS": "true"},
            ["postgres_role_session_signals_allowed"],
            id="session-signals",
        ),
        pytest.param(
            "stock",
            "GRANT pg_read_all_data TO {role}",
            {
                "MCP_POSTGRES_ALLOW_CREDENTIAL_READS": "true",
                "MCP_POSTGRES_ALLOW_SESSION_SIGNALS": "true",
            },
            ["postgres_role_credential_reads_allowed", "postgres_role_session_signals_allowed"],
            id="both",
        ),
    ],
)
async def test_each_narrower_override_serves_the_role_and_says_so_at_start(
    role_with: Callable[[str, str], str],
    sample_database: str,
    stock_database: str,
    tmp_path: Path,
    database: str,
    setup: str,
    env: dict[str, str],
    logged: list[str],
) -> None:
    url = role_with(stock_database if database == "stock" else sample_database, setup)
    server = launch("mcp-postgres", tmp_path, {"DATABASE_URL": url, **env})
    try:
        server.wait_ready()
        async with connect("fastmcp-modern", server.mcp_url) as client:
            one = await client.call("query", {"sql": "SELECT 1 AS one"})
        assert one.data["rows"] == [{"one": 1}], one.text
        for event in logged:
            assert event in server.log_text()
    finally:
        server.stop()


async def test_the_least_privilege_reader_is_served_and_kept_from_side_effects(
    reader_url: str, sample_database: str, tmp_path: Path
) -> None:
    admin = await asyncpg.connect(sample_database)
    server = launch("mcp-postgres", tmp_path, {"DATABASE_URL": reader_url})
    try:
        server.wait_ready()
        async with connect("fastmcp-modern", server.mcp_url) as client:
            tables = await client.call("list_tables", {"schema": "public"})
            rows = await client.call("query", {"sql": "SELECT email FROM customers ORDER BY id"})
            read_file = await client.call("query", {"sql": "SELECT pg_read_file('PG_VERSION')"})
            hashes = await client.call(
                "query", {"sql": "SELECT rolname, rolpassword FROM pg_authid"}
            )
            terminate = await client.call(
                "query",
                {"sql": "SELECT pg_terminate_backend($1)", "params": [admin.get_server_pid()]},
            )
        assert {t["name"] for t in tables.data["result"]} == {"customers", "orders", "big_orders"}
        assert rows.data["rows"] == [{"email": "ada@example.com"}, {"email": "grace@example.com"}]
        assert read_file.is_error and read_file.text == (
            "sql: permission denied for function pg_read_file (SQLSTATE 42501)"
        )
        assert hashes.is_error and hashes.text == (
            "sql: permission denied for table pg_authid (SQLSTATE 42501)"
        )
        assert terminate.is_error and terminate.text == (
            "sql: permission denied for function pg_terminate_backend (SQLSTATE 42501)"
        )
        assert await admin.fetchval("SELECT 1") == 1
        assert "postgres_role_" not in server.log_text()
    finally:
        server.stop()
        await admin.close()
