"""The postgres server as a real process: catalog tools and queries through every client."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from harness.mcp_clients import CLIENTS, connect
from harness.processes import ServerProcess
from harness.servers import VENV_BIN, launch
from pg_admin import psql


@pytest.mark.parametrize("client_kind", CLIENTS)
async def test_catalog_and_query_through_each_client(
    postgres_server: ServerProcess, client_kind: str
) -> None:
    async with connect(client_kind, postgres_server.mcp_url) as client:
        expected = "2025-11-25" if client_kind.endswith("legacy") else "2026-07-28"
        assert client.protocol_version == expected
        assert set(client.tool_names) == {"list_schemas", "list_tables", "describe_table", "query"}

        schemas = await client.call("list_schemas", {})
        assert "public" in [s["name"] for s in schemas.data["result"]]

        tables = await client.call("list_tables", {"schema": "public"})
        kinds = {t["name"]: t["kind"] for t in tables.data["result"]}
        assert kinds == {"customers": "table", "orders": "table", "big_orders": "view"}
        assert (
            next(t for t in tables.data["result"] if t["name"] == "customers")["comment"]
            == "People who order"
        )

        rows = await client.call(
            "query",
            {
                "sql": "SELECT c.email, o.total, o.placed_at, o.details, c.created "
                "FROM orders o JOIN customers c ON c.id = o.customer_id "
                "WHERE o.total > $1 AND c.created >= $2 ORDER BY o.total",
                "params": [50, "2024-01-01"],
            },
        )
        assert not rows.is_error, rows.text
        assert [c["name"] for c in rows.data["columns"]] == [
            "email",
            "total",
            "placed_at",
            "details",
            "created",
        ]
        assert rows.data["row_count"] == 2 and rows.data["truncated"] is False
        first = rows.data["rows"][0]
        assert first["email"] == "grace@example.com"
        assert first["total"] == "99.99"
        assert first["details"] is None
        assert first["created"] == "2024-02-03"
        assert rows.data["rows"][1]["details"] == {"items": ["piano"]}


async def test_describe_table_reports_columns_types_and_keys(
    postgres_server: ServerProcess,
) -> None:
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        described = (await client.call("describe_table", {"table": "orders"})).data
        missing = await client.call("describe_table", {"table": "nope", "schema": "public"})
    columns = {c["name"]: c for c in described["columns"]}
    assert columns["total"]["type"] == "numeric(10,2)" and columns["total"]["nullable"] is False
    assert columns["details"]["type"] == "jsonb" and columns["details"]["nullable"] is True
    assert columns["placed_at"]["default"] == "now()"
    assert described["primary_key"] == ["id"]
    foreign = next(c for c in described["constraints"] if c["kind"] == "foreign key")
    assert foreign["columns"] == ["customer_id"] and foreign["references_table"] == "customers"
    assert any(c["kind"] == "check" for c in described["constraints"])
    assert {i["name"] for i in described["indexes"]} == {"orders_pkey", "orders_customer"}
    assert missing.is_error
    assert missing.text == "table: no table or view named 'nope' in schema 'public'"


async def test_catalog_names_holding_nul_are_refused_naming_the_argument(
    postgres_server: ServerProcess,
) -> None:
    # PostgreSQL's text cannot hold NUL: these failed quoting asyncpg, "Error calling tool
    # 'list_tables': invalid byte sequence for encoding "UTF8": 0x00", with a traceback logged.
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        tables = await client.call("list_tables", {"schema": "pub\x00lic"})
        described = await client.call("describe_table", {"table": "orders\x00"})
        in_schema = await client.call("describe_table", {"table": "orders", "schema": "\x00"})
    assert tables.is_error and described.is_error and in_schema.is_error
    assert (
        tables.text == "schema: must not contain NUL (U+0000) at index 3; no PostgreSQL name does"
    )
    assert described.text == (
        "table: must not contain NUL (U+0000) at index 6; no PostgreSQL name does"
    )
    assert in_schema.text == (
        "schema: must not contain NUL (U+0000) at index 0; no PostgreSQL name does"
    )


async def test_describe_table_reports_a_constraint_trigger(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    # pg_constraint holds constraint triggers too (contype 't'), which had no kind: pydantic
    # failed the call, "1 validation error for ConstraintInfo", for every such table.
    database = new_database()
    psql(
        database,
        "CREATE TABLE audited (id int PRIMARY KEY);"
        " CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';"
        " CREATE CONSTRAINT TRIGGER audit AFTER INSERT ON audited DEFERRABLE"
        " FOR EACH ROW EXECUTE FUNCTION noop()",
    )
    env = {"DATABASE_URL": database, **SUPERUSER_ALLOWED}
    with launch("mcp-postgres", tmp_path, env) as server:
        server.wait_ready()
        async with connect("fastmcp-modern", server.mcp_url) as client:
            described = await client.call("describe_table", {"table": "audited"})
    assert not described.is_error, described.text
    assert described.data["primary_key"] == ["id"]
    assert {
        "name": "audit",
        "kind": "constraint trigger",
        "columns": [],
        "references_table": None,
        "definition": "TRIGGER DEFERRABLE",
    } in described.data["constraints"]


async def test_query_results_are_limited_and_json_safe(postgres_server: ServerProcess) -> None:
    async with connect("mcp-modern", postgres_server.mcp_url) as client:
        many = await client.call("query", {"sql": "SELECT g FROM generate_series(1, 500) g"})
        odd = await client.call(
            "query",
            {
                "sql": "SELECT 'NaN'::float8 AS nan, '\\x00ff'::bytea AS raw, "
                "interval '90 minutes' AS span, $1::uuid AS id, int4range(1, 5) AS r, "
                "ARRAY[1.5, 2]::numeric[] AS nums, 1 AS n, 2 AS n, '10.0.0.1'::inet AS ip",
                "params": ["7f1d4c9a-4a8e-4d7e-9c3b-1a2b3c4d5e6f"],
            },
        )
        explained = await client.call("query", {"sql": "EXPLAIN SELECT * FROM orders"})
    assert many.data["row_count"] == 50 and many.data["truncated"] is True
    assert [r["g"] for r in many.data["rows"]] == list(range(1, 51))
    assert not odd.is_error, odd.text
    row = odd.data["rows"][0]
    assert row == {
        "nan": "nan",
        "raw": "AP8=",
        "span": 5400.0,
        "id": "7f1d4c9a-4a8e-4d7e-9c3b-1a2b3c4d5e6f",
        "r": {"lower": 1, "upper": 5, "lower_inc": True, "upper_inc": False, "empty": False},
        "nums": ["1.5", "2"],
        "n": 1,
        "n_2": 2,
        "ip": "10.0.0.1",
    }
    assert explained.data["rows"][0]["QUERY PLAN"].startswith("Seq Scan on orders")


async def test_json_nested_deeper_than_a_result_carries_is_refused_naming_the_limit(
    postgres_server: ServerProcess,
) -> None:
    # pydantic, which checks and writes the result, stops near 200 levels and json.loads
    # near 1000: a deeper value failed the call with "recursion limit exceeded at line 1
    # column 253" or a 1000-line validation error, and a traceback in the log.
    def nested(pairs: int, kind: str) -> dict[str, str]:
        # An object holding an array, `pairs` times: 2 levels each, around a string of
        # brackets, which do not count.
        opened, closed = "'{\"a\": ['", "']}'"
        return {
            "sql": f"SELECT (repeat({opened}, {pairs}) || '\"]]]\"' || repeat({closed}, {pairs}))"
            f"::{kind} AS doc"
        }

    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        deepest = await client.call("query", nested(50, "jsonb"))
        refused = [
            await client.call("query", nested(pairs, kind))
            for kind, pairs in (("json", 51), ("jsonb", 600))
        ]
    assert not deepest.is_error, deepest.text
    doc = deepest.data["rows"][0]["doc"]
    for _ in range(50):
        doc = doc["a"][0] if isinstance(doc, dict) else doc
    assert doc == "]]]"
    for outcome in refused:
        assert outcome.is_error
        assert outcome.text == (
            "sql: a json or jsonb value is nested more than 100 levels deep, deeper than a"
            " result can carry; select it as text (::text)"
        )


@pytest.mark.parametrize(
    ("sql", "cause"),
    [
        (
            "SELECT DATE '2024-01-01' AS fine, DATE '10000-01-01' AS later",
            "year 10000 is out of range",
        ),
        ("SELECT '0044-03-15 BC'::timestamptz AS ides", "date value out of range"),
        ("SELECT '{2024-01-01,10000-01-01}'::date[] AS days", "year 10000 is out of range"),
        ("SELECT TIME '24:00' AS midnight", "hour must be in 0..23"),
        (
            "SELECT interval '100000000 years' AS eons",
            "days=2140261632; must have magnitude <= 999999999",
        ),
    ],
)
async def test_values_beyond_pythons_ranges_are_refused_naming_the_cure(
    postgres_server: ServerProcess, sql: str, cause: str
) -> None:
    # PostgreSQL holds dates from 4713 BC to 5874897 AD, asyncpg builds Python's, which end
    # at years 1 and 9999: the call failed quoting only Python ("year 10000 is out of
    # range"), with a traceback logged.
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        refused = await client.call("query", {"sql": sql})
        as_text = await client.call("query", {"sql": "SELECT DATE '10000-01-01'::text AS later"})
    assert refused.is_error
    assert refused.text == (
        f"sql: a value in the rows is beyond what Python's date, time and interval types hold"
        f" ({cause}): years before 1 or after 9999, a time of 24:00, an interval over"
        " 999999999 days; select it as text (::text)"
    )
    assert as_text.data["rows"] == [{"later": "10000-01-01"}]


async def test_columns_renamed_apart_never_take_another_columns_name(
    postgres_server: ServerProcess,
) -> None:
    # The second "n" became n_2, which the third column already was: one value was lost.
    async with connect("mcp-modern", postgres_server.mcp_url) as client:
        named = await client.call("query", {"sql": "SELECT 1 AS n, 2 AS n, 3 AS n_2, 4 AS n"})
    assert not named.is_error, named.text
    assert [c["name"] for c in named.data["columns"]] == ["n", "n_3", "n_2", "n_4"]
    assert named.data["rows"] == [{"n": 1, "n_3": 2, "n_2": 3, "n_4": 4}]


async def test_geometric_and_bit_values_are_json_not_python_reprs(
    postgres_server: ServerProcess,
) -> None:
    async with connect("mcp-modern", postgres_server.mcp_url) as client:
        shapes = await client.call(
            "query",
            {
                "sql": "SELECT '((0,0),(1,0),(1,1))'::polygon AS poly, '[(0,0),(1,1)]'::path AS"
                " open_path, '((0,0),(2,2))'::path AS loop, B'1011' AS bits, point(1, 2) AS pt"
            },
        )
    assert not shapes.is_error, shapes.text
    assert shapes.data["rows"][0] == {
        "poly": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]],
        "open_path": {"points": [[0.0, 0.0], [1.0, 1.0]], "closed": False},
        "loop": {"points": [[0.0, 0.0], [2.0, 2.0]], "closed": True},
        "bits": "1011",
        "pt": [1.0, 2.0],
    }


async def test_bad_queries_get_errors_naming_the_problem(postgres_server: ServerProcess) -> None:
    cases = [
        (
            {"sql": "SELECT $1::int"},
            "params: the query has 1 placeholder(s) ($1, $2, ...) but 0 value(s) were given",
        ),
        (
            {"sql": "SELECT $1::int", "params": ["seven"]},
            "params: invalid input for query argument $1",
        ),
        (
            {"sql": "SELECT $1::date", "params": ["yesterday"]},
            "params[0]: 'yesterday' is not a valid date",
        ),
        (
            {"sql": "SELECT * FROM missing_table"},
            'sql: relation "missing_table" does not exist (SQLSTATE 42P01)',
        ),
        ({"sql": "SELEC 1"}, "sql: only read-only queries are allowed"),
        ({"sql": "SELECT FROM WHERE"}, "sql: syntax error"),
        ({"sql": ""}, "sql: must not be empty"),
        # PostgreSQL reads the query text up to a NUL and the rest as the message's next
        # fields: this was "database unavailable, try again later (ProtocolViolationError...".
        (
            {"sql": "SELECT id FROM customers\x00 WHERE id = 0"},
            "sql: must not contain NUL (U+0000) at index 24; PostgreSQL would read the query"
            " only up to it",
        ),
    ]
    async with connect("fastmcp-legacy", postgres_server.mcp_url) as client:
        for args, message in cases:
            outcome = await client.call("query", args)
            assert outcome.is_error, args
            assert outcome.text.startswith(message), (args, outcome.text)


async def test_results_are_capped_in_bytes(postgres_server: ServerProcess) -> None:
    # The fixture allows 100000 bytes of JSON per result (MCP_QUERY_MAX_BYTES).
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        wide = await client.call(
            "query",
            {"sql": "SELECT g, repeat('x', 10000) AS filler FROM generate_series(1, 40) g"},
        )
        huge = await client.call("query", {"sql": "SELECT repeat('x', 10000000) AS blob"})
    assert not wide.is_error, wide.text
    assert wide.data["truncated"] is True
    assert 1 <= wide.data["row_count"] < 10
    assert [r["g"] for r in wide.data["rows"]] == list(range(1, wide.data["row_count"] + 1))
    assert huge.is_error
    assert huge.text == (
        "sql: the first row alone is larger than MCP_QUERY_MAX_BYTES (100000 bytes);"
        " select fewer or shorter columns"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL: Field required"),
        (
            {"DATABASE_URL": "postgresql://mcp@127.0.0.1/x", "MCP_QUERY_MAX_BYTES": "10"},
            "MCP_QUERY_MAX_BYTES: Input should be greater than or equal to 1000 (got '10')",
        ),
        (
            {"DATABASE_URL": "postgresql://mcp@127.0.0.1/x", "MCP_QUERY_MAX_VALUES": "10"},
            "MCP_QUERY_MAX_VALUES: Input should be greater than or equal to 100 (got '10')",
        ),
        (
            {"DATABASE_URL": "postgresql://mcp@127.0.0.1/x", "MCP_QUERY_MAX_ROWS": "0"},
            "MCP_QUERY_MAX_ROWS: Input should be greater than or equal to 1 (got '0')",
        ),
        (
            {"DATABASE_URL": "postgresql://mcp@127.0.0.1/x", "MCP_QUERY_TIMEOUT_SECONDS": "soon"},
            "MCP_QUERY_TIMEOUT_SECONDS: Input should be a valid number",
        ),
        ({"DATABASE_URL": "http://db/x"}, "DATABASE_URL: URL scheme should be"),
        (
            {"DATABASE_URL": "postgresql://mcp@127.0.0.1/x", "MCP_POSTGRES_ALLOW_SUPERUSER": "?"},
            "MCP_POSTGRES_ALLOW_SUPERUSER: Input should be a valid boolean",
        ),
        (
            {
                "DATABASE_URL": "postgresql://mcp@127.0.0.1/x",
                "MCP_POSTGRES_ALLOW_CREDENTIAL_READS": "maybe",
            },
            "MCP_POSTGRES_ALLOW_CREDENTIAL_READS: Input should be a valid boolean",
        ),
        (
            {
                "DATABASE_URL": "postgresql://mcp@127.0.0.1/x",
                "MCP_POSTGRES_ALLOW_SESSION_SIGNALS": "sometimes",
            },
            "MCP_POSTGRES_ALLOW_SESSION_SIGNALS: Input should be a valid boolean",
        ),
    ],
)
def test_bad_settings_stop_the_server_with_one_line(env: dict, message: str) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "mcp-postgres")],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _metric(server: ServerProcess, series: str) -> float:
    for line in httpx.get(f"{server.base_url}/metrics").text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    raise AssertionError(f"{series} not in /metrics")


async def test_refused_queries_count_as_tool_errors(postgres_server: ServerProcess) -> None:
    series = 'mcp_tool_calls_total{outcome="error",tool="query"}'
    before = _metric(postgres_server, series)
    async with connect("fastmcp-modern", postgres_server.mcp_url) as client:
        await client.call("query", {"sql": "DELETE FROM orders"})
    assert _metric(postgres_server, series) == before + 1


# new_database() hands out the admin (superuser) URL; these tests are about the pool, not the role.
SUPERUSER_ALLOWED = {"MCP_POSTGRES_ALLOW_SUPERUSER": "true"}

# Blocks until the test releases the lock on `gate`: a query that runs as long as needed.
GATED_QUERY = {"sql": "SELECT 1 AS done FROM (SELECT count(*) FROM gate) AS waited"}


@asynccontextmanager
async def locked_gate(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """Hold an exclusive lock on table `gate` until the block ends; yields the holder."""
    holder = await asyncpg.connect(database_url)
    try:
        await holder.execute("CREATE TABLE IF NOT EXISTS gate (id int)")
        async with holder.transaction():
            await holder.execute("LOCK TABLE gate IN ACCESS EXCLUSIVE MODE")
            yield holder
    finally:
        await holder.close()


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 60
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def queries_waiting_on_the_gate(holder: asyncpg.Connection) -> int:
    count: int = await holder.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return count


async def test_sigterm_lets_running_queries_finish(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    database = new_database()
    server = launch(
        "mcp-postgres",
        tmp_path,
        {"DATABASE_URL": database, "MCP_QUERY_TIMEOUT_SECONDS": "120", **SUPERUSER_ALLOWED},
    )
    server.wait_ready()

    async def gated_call(kind: str) -> object:
        async with connect(kind, server.mcp_url) as client:
            return await client.call("query", GATED_QUERY)

    async with locked_gate(database):
        # 8 calls: fewer than the 10 pooled connections, so none waits for a connection.
        calls = [asyncio.create_task(gated_call(kind)) for kind in CLIENTS for _ in range(2)]

        async def all_in_flight() -> bool:
            return _metric(server, "mcp_tool_calls_in_flight") == len(calls)

        await wait_until(all_in_flight, "every call to be in flight")
        server.process.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            return server.ready_status() == 503

        await wait_until(draining, "/ready to turn 503")
        assert not any(call.done() for call in calls)
    outcomes = await asyncio.gather(*calls)
    assert all(not o.is_error and o.data["rows"] == [{"done": 1}] for o in outcomes), outcomes
    assert await asyncio.to_thread(server.process.wait, 30) == 0


async def test_a_query_whose_caller_gives_up_is_cancelled_in_postgresql(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    """A 2026-07-28 caller cancels by closing its request; the query stops in PostgreSQL
    (asyncpg cancels it as its task is cancelled) instead of waiting on for nobody, and its
    pooled connection serves the next query."""
    database = new_database()
    settings = {"MCP_QUERY_TIMEOUT_SECONDS": "120", "MCP_DB_POOL_SIZE": "1"}
    env = {"DATABASE_URL": database, **settings, **SUPERUSER_ALLOWED}
    with launch("mcp-postgres", tmp_path, env) as server:
        server.wait_ready()
        async with (
            locked_gate(database) as holder,
            connect("fastmcp-modern", server.mcp_url) as client,
        ):
            call = asyncio.create_task(client.call("query", GATED_QUERY))

            async def waiting() -> bool:
                return await queries_waiting_on_the_gate(holder) == 1

            await wait_until(waiting, "the query to wait on the gate")
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

            async def stopped() -> bool:
                return await queries_waiting_on_the_gate(holder) == 0

            # Still locked: only a cancellation can have ended the query.
            await wait_until(stopped, "the query to be cancelled in PostgreSQL")
            answer = await client.call("query", {"sql": "SELECT 2 AS next"})
        assert not answer.is_error and answer.data["rows"] == [{"next": 2}]
        assert _metric(server, 'mcp_tool_calls_total{outcome="cancelled",tool="query"}') == 1
        assert _metric(server, "mcp_tool_calls_in_flight") == 0


async def test_a_full_pool_is_reported_as_busy_not_down(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    database = new_database()
    server = launch(
        "mcp-postgres",
        tmp_path,
        {
            "DATABASE_URL": database,
            "MCP_DB_POOL_SIZE": "1",
            "MCP_QUERY_TIMEOUT_SECONDS": "120",
            **SUPERUSER_ALLOWED,
        },
    )
    try:
        server.wait_ready()
        async with connect("fastmcp-modern", server.mcp_url) as client:
            async with locked_gate(database) as holder:
                held = asyncio.create_task(client.call("query", GATED_QUERY))

                async def connection_held() -> bool:
                    return await queries_waiting_on_the_gate(holder) == 1

                await wait_until(connection_held, "the pool's only connection to be in use")
                assert server.ready_status() == 200
                waiting = await client.call("query", {"sql": "SELECT 1"})
            assert (await held).data["rows"] == [{"done": 1}]
        assert waiting.is_error
        assert waiting.text == (
            "database busy: all 1 pooled connections stayed in use for 5 s; try again shortly"
        )
    finally:
        server.stop()


@pytest.mark.parametrize(
    "sql",
    [
        # 0.5 s per fetch of 100 rows, 5 s for the 1000 rows the call may return.
        "SELECT pg_sleep(0.005) FROM generate_series(1, 1000)",
        # The same, turning the statement timeout off for the fetches after the first.
        "SELECT set_config('statement_timeout', '0', true), pg_sleep(0.005)"
        " FROM generate_series(1, 1000)",
    ],
)
async def test_the_statement_timeout_bounds_the_whole_query_not_each_fetch(
    sample_database: str, tmp_path: Path, sql: str
) -> None:
    """PostgreSQL restarts its statement timeout at every fetch of a cursor: a query whose
    rows come slowly but in time for each batch of 100 ran for 10 times the timeout."""
    env = {"DATABASE_URL": sample_database, "MCP_QUERY_TIMEOUT_SECONDS": "1", **SUPERUSER_ALLOWED}
    with launch("mcp-postgres", tmp_path, env) as server:
        server.wait_ready()
        async with connect("fastmcp-modern", server.mcp_url) as client:
            started = time.monotonic()
            slow = await client.call("query", {"sql": sql})
            elapsed = time.monotonic() - started
            after = await client.call("query", {"sql": "SELECT 2 AS next"})
    assert slow.is_error and slow.text == "sql: cancelled after the statement timeout of 1 s"
    assert elapsed < 2.5, elapsed
    assert not after.is_error and after.data["rows"] == [{"next": 2}]
