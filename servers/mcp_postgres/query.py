"""Run one agent-supplied query inside a read-only transaction, with time, row and size
limits."""

import math
import time
from functools import partial

import asyncpg
from mcp_runtime.postgres import CONNECTION_ERRORS
from pydantic import BaseModel, JsonValue

from mcp_postgres.errors import QueryInterrupted, QueryRejected
from mcp_postgres.interruptions import (
    CANCELLED,
    TERMINATED,
    cancelled_by_our_timeout,
    terminated_by_another_session,
)
from mcp_postgres.parameters import bind_parameters
from mcp_postgres.result_limits import (
    QueryLimits,
    fetch_within_limits,
    first_row_too_large,
    holds_nested,
)
from mcp_postgres.row_budget import RowBudget


class QueryColumn(BaseModel):
    name: str
    type: str


class QueryResult(BaseModel):
    columns: list[QueryColumn]
    rows: list[dict[str, JsonValue]]
    row_count: int
    truncated: bool


async def _limit_time(conn: asyncpg.Connection, deadline: float) -> None:
    """Set the statement timeout to the time left until `deadline` (time.monotonic()).

    PostgreSQL restarts the statement timeout at each fetch from a cursor, and the query
    itself may change it (set_config): set once, each batch of rows had the whole timeout.
    SET LOCAL ends with the transaction: the pooled connection keeps its defaults.
    """
    left_ms = math.ceil((deadline - time.monotonic()) * 1000)
    # 0 would turn the timeout off; 1 ms has PostgreSQL cancel the fetch at once instead.
    await conn.execute(f"SET LOCAL statement_timeout = {max(left_ms, 1)}")


def _unique_names(names: list[str]) -> list[str]:
    # "SELECT 1, 1" yields two columns named ?column?; each row key must stay distinct.
    # A repeated name gets the first free suffix: free of the names already given and of
    # every column's own, or "SELECT 1 AS n, 2 AS n, 3 AS n_2" kept only two of the values.
    taken = set(names)
    given: set[str] = set()
    unique = []
    for name in names:
        candidate, suffix = name, 1
        while candidate in given or (suffix > 1 and candidate in taken):
            suffix += 1
            candidate = f"{name}_{suffix}"
        given.add(candidate)
        unique.append(candidate)
    return unique


async def run_read_only(
    conn: asyncpg.Connection, sql: str, params: list[JsonValue], limits: QueryLimits
) -> QueryResult:
    """Execute `sql` with `params` bound; PostgreSQL itself refuses every write, and the
    transaction is rolled back, never committed.

    A prepared statement holds exactly one statement, so "...; DELETE ..." never runs.
    Rows are fetched within `limits` (see result_limits); `truncated` says if there were more.
    """
    budget = RowBudget.on(conn)
    started = time.monotonic()
    nested = False
    try:
        with budget.limited(limits.max_bytes):
            transaction = conn.transaction(readonly=True)
            try:
                await transaction.start()
            except TimeoutError:
                conn.terminate()  # Unanswered: see below.
                raise
            unanswered = False
            try:
                limit_time = partial(_limit_time, conn, started + limits.timeout_seconds)
                await limit_time()
                statement = await conn.prepare(sql)
                arguments = bind_parameters(params, statement.get_parameters())
                try:
                    cursor = await statement.cursor(*arguments)
                except (asyncpg.DataError, asyncpg.InterfaceError) as exc:
                    raise QueryRejected(f"params: {exc}") from exc
                attributes = statement.get_attributes()
                names = _unique_names([attribute.name for attribute in attributes])
                nested = holds_nested(attributes)
                rows, truncated = await fetch_within_limits(
                    cursor, budget, names, nested, limits, limit_time
                )
                if not conn.is_in_transaction():
                    raise QueryRejected("sql: transaction control statements are not allowed")
            except TimeoutError:
                # asyncpg's command timeout: the database stopped answering (the statement
                # timeout fires first while it answers, see server.py). A rollback would wait
                # out the command timeout again, and the pool, taking the connection back, up
                # to 5 s more for the cancel request asyncpg sent.
                unanswered = True
                raise
            finally:
                # Rolled back even on success: READ ONLY lets large objects be created and
                # written (lo_from_bytea, lo_put), and a rollback undoes what it lets through.
                if budget.severed or unanswered:
                    # Out of step with the server (see row_budget), or not answering: closing
                    # it undoes all.
                    conn.terminate()
                elif not conn.is_closed():
                    # Closed: another session or an administrator ended it.
                    await transaction.rollback()
    except asyncpg.ReadOnlySQLTransactionError as exc:
        raise QueryRejected(f"sql: refused, this server only reads: {exc}") from exc
    except asyncpg.ActiveSQLTransactionError as exc:
        raise QueryRejected(f"sql: refused, the transaction stays read-only: {exc}") from exc
    except asyncpg.QueryCanceledError as exc:
        if cancelled_by_our_timeout(exc, time.monotonic() - started, limits.timeout_seconds):
            raise QueryRejected(
                f"sql: cancelled after the statement timeout of {limits.timeout_seconds:g} s"
            ) from exc
        raise QueryInterrupted(CANCELLED) from exc
    except asyncpg.PostgresSyntaxError as exc:
        if "multiple commands" in str(exc):
            raise QueryRejected("sql: only one statement is allowed per query") from exc
        raise QueryRejected(f"sql: syntax error: {exc}") from exc
    except CONNECTION_ERRORS as exc:
        if budget.refused:
            # A row over the budget outside a fetch (not expected): the budget dropped the
            # connection rather than receive it.
            raise first_row_too_large(limits, nested) from exc
        if terminated_by_another_session(exc):
            raise QueryInterrupted(TERMINATED) from exc
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
