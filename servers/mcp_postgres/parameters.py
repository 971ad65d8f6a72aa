"""Bind JSON parameter values to a prepared statement's parameter types."""

import datetime as dt
import decimal
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from asyncpg.types import Type

from mcp_postgres.errors import QueryRejected

# JSON has no dates, UUIDs or exact decimals: callers send them as strings and asyncpg
# needs the Python type, so strings for these parameter types are parsed first.
_FROM_STRING: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "timestamptz": dt.datetime.fromisoformat,
    "time": dt.time.fromisoformat,
    "uuid": uuid.UUID,
    "numeric": decimal.Decimal,
}


def bind_parameters(values: Sequence[Any], types: Sequence[Type]) -> list[Any]:
    if len(values) != len(types):
        raise QueryRejected(
            f"params: the query has {len(types)} placeholder(s) ($1, $2, ...) "
            f"but {len(values)} value(s) were given"
        )
    return [
        _bind(index, value, pg_type)
        for index, (value, pg_type) in enumerate(zip(values, types, strict=True))
    ]


def _bind(index: int, value: Any, pg_type: Type) -> Any:
    if pg_type.name == "numeric" and isinstance(value, int | float) and not isinstance(value, bool):
        return decimal.Decimal(str(value))
    parse = _FROM_STRING.get(pg_type.name)
    if parse is None or not isinstance(value, str):
        return value
    try:
        return parse(value)
    except (ValueError, decimal.InvalidOperation) as exc:
        raise QueryRejected(
            f"params[{index}]: {value!r} is not a valid {pg_type.name} ({exc})"
        ) from exc
