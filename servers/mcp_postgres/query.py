"""Run one agent-supplied query inside a read-only transaction, with time and row limits."""

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
    timeout_seconds: float,
) -> QueryResult:
    """Execute `sql` with `params` bound; PostgreSQL itself refuses every write.

    A prepared statement holds exactly one statement, so "...; DELETE ..." never runs.
    """
    try:
        async with conn.transaction(readonly=True):
            # SET LOCAL ends with the transaction, so the pooled connection keeps its defaults.
            await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}")
            statement = await conn.prepare(sql)
            arguments = bind_parameters(params, statement.get_parameters())
            try:
                cursor = await statement.cursor(*arguments)
            except (asyncpg.DataError, asyncpg.InterfaceError) as exc:
                raise QueryRejected(f"params: {exc}") from exc
            records = await cursor.fetch(max_rows + 1)
            if not conn.is_in_transaction():
                raise QueryRejected("sql: transaction control statements are not allowed")
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

    attributes = statement.get_attributes()
    names = _unique_names([attribute.name for attribute in attributes])
    shown = records[:max_rows]
    return QueryResult(
        columns=[
            QueryColumn(name=name, type=attribute.type.name)
            for name, attribute in zip(names, attributes, strict=True)
        ],
        rows=[
            {name: to_json(value) for name, value in zip(names, record.values(), strict=True)}
            for record in shown
        ],
        row_count=len(shown),
        truncated=len(records) > max_rows,
    )
