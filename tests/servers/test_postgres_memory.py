"""No query raises the server's peak memory by much, whatever it selects (issue #12).

values/postgres.yaml gives the pod 512 MiB. Before the row budget, `SELECT repeat('x',
150000000)` was refused only after the process peaked near 690 MB, and 100 rows of 2 MB cost
200 MB to return 2 of them: rows were fetched 100 at a time, each read whole, before the byte
cap was checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.mcp_clients import connect
from harness.processes import ServerProcess
from harness.servers import launch
from pg_admin import with_database

GROWTH_LIMIT_MIB = 64
TOO_LARGE = (
    "sql: the first row alone is larger than MCP_QUERY_MAX_BYTES (5000000 bytes);"
    " select fewer or shorter columns"
)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM in /proc/{pid}/status")


@pytest.fixture
def default_server(
    tmp_path: Path, postgres_reader_url: str, sample_database: str
) -> Iterator[ServerProcess]:
    # The default limits (1000 rows, 5000000 bytes); only the statement timeout is longer,
    # since PostgreSQL itself takes seconds to build these values on a busy machine.
    url = with_database(postgres_reader_url, sample_database.rsplit("/", 1)[1])
    server = launch(
        "mcp-postgres", tmp_path, {"DATABASE_URL": url, "MCP_QUERY_TIMEOUT_SECONDS": "120"}
    )
    server.wait_ready()
    yield server
    server.stop()


async def test_hostile_queries_stay_within_64_mib_of_idle(default_server: ServerProcess) -> None:
    async with connect("fastmcp-modern", default_server.mcp_url) as client:
        # Idle: started, connected, one small query served.
        assert not (await client.call("query", {"sql": "SELECT 1"})).is_error
        idle = peak_rss_mib(default_server.pid)

        one_huge = await client.call("query", {"sql": "SELECT repeat('x', 150000000)"})
        many_huge = await client.call(
            "query", {"sql": "SELECT repeat('x', 150000000) FROM generate_series(1, 100)"}
        )
        many_large = await client.call(
            "query", {"sql": "SELECT repeat('x', 2000000) AS r FROM generate_series(1, 100)"}
        )
        # A plan shows the constant PostgreSQL folded: one line of 100 MB.
        huge_plan = await client.call(
            "query", {"sql": "EXPLAIN VERBOSE SELECT repeat('x', 100000000)"}
        )
        peak = peak_rss_mib(default_server.pid)

    assert peak - idle < GROWTH_LIMIT_MIB, f"peak RSS grew {peak - idle:.0f} MiB over idle"
    assert one_huge.is_error and one_huge.text == TOO_LARGE
    assert many_huge.is_error and many_huge.text == TOO_LARGE
    assert not many_large.is_error, many_large.text
    assert many_large.data["row_count"] == 2 and many_large.data["truncated"] is True
    assert not huge_plan.is_error, huge_plan.text
    assert huge_plan.data["truncated"] is True
    assert all(len(row["QUERY PLAN"]) < 1000 for row in huge_plan.data["rows"])


TOO_MANY_VALUES = (
    "sql: the first row alone holds more than MCP_QUERY_MAX_VALUES (100000) values (columns,"
    " array elements, JSON members); select fewer, or aggregate in SQL"
)
NESTED_TOO_LARGE = (
    "sql: the first row alone is larger than MCP_QUERY_MAX_BYTES (5000000 bytes, 312500 as"
    " received for rows with arrays or records); select fewer or shorter columns"
)
TINY_VALUES = [
    # Within MCP_QUERY_MAX_BYTES as JSON, yet each "{}" becomes a 64-byte dict: once decoded,
    # 5 MB of it took over 250 MiB.
    ("SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 1200000)", TOO_MANY_VALUES),
    (
        "SELECT jsonb_agg(jsonb_build_object('a', g)) FROM generate_series(1, 300000) g",
        TOO_MANY_VALUES,
    ),
    # asyncpg builds a whole array before anything can count it, a list per dimension of
    # each element: 900,000 booleans in 3 dimensions took 150 MiB from 4.5 MB.
    ("SELECT array_agg(ARRAY[ARRAY[true]]) FROM generate_series(1, 900000)", NESTED_TOO_LARGE),
    # The same, inside an anonymous record, which asyncpg calls a scalar.
    (
        "SELECT ROW(array_agg(ARRAY[ARRAY[true]])) FROM generate_series(1, 900000)",
        NESTED_TOO_LARGE,
    ),
    ("SELECT array_agg(g) FROM generate_series(1, 600000) g", NESTED_TOO_LARGE),
]


async def test_results_of_many_tiny_values_stay_within_64_mib_of_idle(
    default_server: ServerProcess,
) -> None:
    async with connect("fastmcp-modern", default_server.mcp_url) as client:
        assert not (await client.call("query", {"sql": "SELECT 1"})).is_error
        idle = peak_rss_mib(default_server.pid)
        outcomes = [await client.call("query", {"sql": sql}) for sql, _ in TINY_VALUES]
        # Ordinary results with arrays and JSON are served whole.
        ordinary = await client.call(
            "query",
            {
                "sql": "SELECT g, ARRAY[g, g + 1] AS pair, jsonb_build_object('g', g) AS doc "
                "FROM generate_series(1, 1000) g"
            },
        )
        peak = peak_rss_mib(default_server.pid)
    assert peak - idle < GROWTH_LIMIT_MIB, f"peak RSS grew {peak - idle:.0f} MiB over idle"
    for (sql, message), outcome in zip(TINY_VALUES, outcomes, strict=True):
        assert outcome.is_error and outcome.text == message, (sql, outcome.text)
    assert not ordinary.is_error, ordinary.text
    assert ordinary.data["truncated"] is False and ordinary.data["row_count"] == 1000
    assert ordinary.data["rows"][0] == {"g": 1, "pair": [1, 2], "doc": {"g": 1}}
