"""Run one agent-supplied query inside a read-only transaction, with time, row and size
limits."""

import json

import asyncpg
from mcp_runtime.postgres import CONNECTION_ERRORS
from pydantic import BaseModel, JsonValue

from mcp_postgres.errors import QueryRejected
from mcp_postgres.json_values import to_json
from mcp_postgres.parameters import bind_parameters


class QueryColumn(BaseModel):
    name: str
    type: str


class QueryResult(BaseModel):
    columns: list[QueryColumn]
    rows: list[dict[str, JsonValue]]
    row_count: int
    truncated: bool


# Rows fetched per round trip while the row and byte limits are checked.
_FETCH_BATCH = 100


def _unique_names(names: list[str]) -> list[str]:
    # "SELECT 1, 1" yields two columns named ?column?; each row key must stay distinct.
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


async def run_read_only(
    conn: asyncpg.Connection,
    sql: str,
    params: list[JsonValue],
    *,
    max_rows: int,
    max_bytes: int,
    timeout_seconds: float,
) -> QueryResult:
    """Execute `sql` with `params` bound; PostgreSQL itself refuses every write, and the
    transaction is rolled back, never committed.

    A prepared statement holds exactly one statement, so "...; DELETE ..." never runs.
    Fetching stops after `max_rows` rows, or before the rows as JSON pass `max_bytes`;
    either way `truncated` is set.
    """
    try:
        transaction = conn.transaction(readonly=True)
        await transaction.start()
        try:
            # SET LOCAL ends with the transaction, so the pooled connection keeps its defaults.
            await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}")
            statement = await conn.prepare(sql)
            arguments = bind_parameters(params, statement.get_parameters())
            try:
                cursor = await statement.cursor(*arguments)
            except (asyncpg.DataError, asyncpg.InterfaceError) as exc:
                raise QueryRejected(f"params: {exc}") from exc
            attributes = statement.get_attributes()
            names = _unique_names([attribute.name for attribute in attributes])
            rows, truncated = await _fetch_within_limits(cursor, names, max_rows, max_bytes)
            if not conn.is_in_transaction():
                raise QueryRejected("sql: transaction control statements are not allowed")
        finally:
            # Rolled back even on success: READ ONLY lets large objects be created and
            # written (lo_from_bytea, lo_put), and a rollback undoes what it lets through.
            await transaction.rollback()
    except asyncpg.ReadOnlySQLTransactionError as exc:
        raise QueryRejected(f"sql: refused, this server only reads: {exc}") from exc
    except asyncpg.ActiveSQLTransactionError as exc:
        raise QueryRejected(f"sql: refused, the transaction stays read-only: {exc}") from exc
    except asyncpg.QueryCanceledError as exc:
        raise QueryRejected(
            f"sql: cancelled after the statement timeout of {timeout_seconds:g} s"
        ) from exc
    except asyncpg.PostgresSyntaxError as exc:
        if "multiple commands" in str(exc):
            raise QueryRejected("sql: only one statement is allowed per query") from exc
        raise QueryRejected(f"sql: syntax error: {exc}") from exc
    except CONNECTION_ERRORS:
        raise
    except asyncpg.PostgresError as exc:
        raise QueryRejected(f"sql: {exc} (SQLSTATE {exc.sqlstate})") from exc

    return QueryResult(
        columns=[
            QueryColumn(name=name, type=attribute.type.name)
            for name, attribute in zip(names, attributes, strict=True)
        ],
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
    )


async def _fetch_within_limits(
    cursor: asyncpg.cursor.Cursor, names: list[str], max_rows: int, max_bytes: int
) -> tuple[list[dict[str, JsonValue]], bool]:
    """The rows that fit both limits, and whether the query had more."""
    rows: list[dict[str, JsonValue]] = []
    size = 0
    while True:
        # One row past the limit tells whether there were more.
        batch = await cursor.fetch(min(_FETCH_BATCH, max_rows + 1 - len(rows)))
        if not batch:
            return rows, False
        for record in batch:
            if len(rows) == max_rows:
                return rows, True
            row = {name: to_json(value) for name, value in zip(names, record.values(), strict=True)}
            size += len(json.dumps(row))
            if size > max_bytes:
                if not rows:
                    raise QueryRejected(
                        f"sql: the first row alone is larger than MCP_QUERY_MAX_BYTES"
                        f" ({max_bytes} bytes of JSON); select fewer or shorter columns"
                    )
                return rows, True
            rows.append(row)
