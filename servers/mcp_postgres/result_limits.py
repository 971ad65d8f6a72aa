"""Fetch a query's rows within its row, byte and value limits.

Three measures, each taken before what it measures is in memory: bytes as received (the row
budget on the socket, see row_budget), values as they are built (see json_values), and bytes
as JSON, for the rows kept. Rows stop at the first that would pass a limit: the result is
truncated, or refused when that is the first row.
"""

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from pydantic import JsonValue

from mcp_postgres.errors import QueryRejected
from mcp_postgres.json_values import TooManyValues, ValueMeter, to_json
from mcp_postgres.row_budget import RowBudget

# Rows fetched per round trip while the limits are checked.
_FETCH_BATCH = 100

# asyncpg decodes an array or a record whole, before the values in it can be counted, and
# nesting multiplies their memory: a 6-dimensional array of booleans takes some 64 times its
# bytes as lists. Rows holding such columns get this share of MCP_QUERY_MAX_BYTES as received.
NESTED_SHARE = 16
# Types asyncpg calls scalars that hold any number of objects: an anonymous record (ROW(...))
# may hold anything, a path or polygon is a tuple of Points.
_NESTED_SCALARS = frozenset({"record", "path", "polygon"})


@dataclass(frozen=True)
class QueryLimits:
    """What one query may take: the MCP_QUERY_* settings."""

    max_rows: int
    max_bytes: int
    max_values: int
    timeout_seconds: float

    def received_bytes(self, nested: bool) -> int:
        """Bytes of rows that may be received, for rows with nested columns or without."""
        return self.max_bytes // NESTED_SHARE if nested else self.max_bytes


def holds_nested(attributes: Sequence[asyncpg.types.Attribute]) -> bool:
    """Whether any column is one asyncpg builds whole, of many objects (see NESTED_SHARE)."""
    return any(
        attribute.type.kind != "scalar" or attribute.type.name in _NESTED_SCALARS
        for attribute in attributes
    )


def first_row_too_large(limits: QueryLimits, nested: bool = False) -> QueryRejected:
    limit = f"{limits.max_bytes} bytes"
    if nested:
        limit += f", {limits.received_bytes(nested)} as received for rows with arrays or records"
    return QueryRejected(
        f"sql: the first row alone is larger than MCP_QUERY_MAX_BYTES ({limit});"
        " select fewer or shorter columns"
    )


def _too_many_values(limits: QueryLimits) -> QueryRejected:
    return QueryRejected(
        f"sql: the first row alone holds more than MCP_QUERY_MAX_VALUES ({limits.max_values})"
        " values (columns, array elements, JSON members); select fewer, or aggregate in SQL"
    )


def _beyond_python(exc: ValueError | OverflowError) -> QueryRejected:
    return QueryRejected(
        f"sql: a value in the rows is beyond what Python's date, time and interval types hold"
        f" ({exc}): years before 1 or after 9999, a time of 24:00, an interval over"
        " 999999999 days; select it as text (::text)"
    )


async def fetch_within_limits(
    cursor: asyncpg.cursor.Cursor,
    budget: RowBudget,
    names: list[str],
    nested: bool,
    limits: QueryLimits,
    limit_time: Callable[[], Awaitable[None]],
) -> tuple[list[dict[str, JsonValue]], bool]:
    """The rows that fit every limit, and whether the query had more.

    `budget` must be limited to `limits.max_bytes` already; it is narrowed here for rows
    with nested columns. `limit_time` runs before each fetch after the first (whose limit the
    caller set), which PostgreSQL would otherwise give a whole statement timeout of its own.
    """
    budget.narrow(limits.received_bytes(nested))
    rows: list[dict[str, JsonValue]] = []
    meter = ValueMeter(limits.max_values)
    size = 0
    while True:
        # One row past the limit tells whether there were more.
        wanted = min(_FETCH_BATCH, limits.max_rows + 1 - len(rows))
        budget.fetch_starts()
        try:
            batch = await cursor.fetch(wanted)
        except (ValueError, OverflowError) as exc:
            # asyncpg builds Python's date, datetime, time and timedelta, whose ranges are
            # narrower than PostgreSQL's. Text that is not UTF-8 is another matter.
            if isinstance(exc, UnicodeError):
                raise
            raise _beyond_python(exc) from exc
        for record in batch:
            if len(rows) == limits.max_rows:
                return rows, True
            try:
                meter.take(len(names))
                row = {
                    name: to_json(value, meter)
                    for name, value in zip(names, record.values(), strict=True)
                }
            except TooManyValues:
                if not rows:
                    raise _too_many_values(limits) from None
                return rows, True
            size += len(json.dumps(row))
            if size > limits.max_bytes:
                if not rows:
                    raise first_row_too_large(limits)
                return rows, True
            rows.append(row)
        if budget.refused:
            # The budget ended the fetch at the first row that would not have fit.
            if not rows:
                raise first_row_too_large(limits, nested)
            return rows, True
        if len(batch) < wanted:
            return rows, False
        await limit_time()
