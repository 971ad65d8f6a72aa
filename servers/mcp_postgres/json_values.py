"""Turn the Python values asyncpg returns into JSON-safe values for structured results,
counting them as they are built.

Every value costs the server tens to hundreds of bytes once it is a Python object, however
short its JSON: 5 MB of `[{},{},...]` is 1.2 million dicts, and the result is copied a few
times on its way out. So a result holds at most a given number of values (columns, array
elements, JSON members), counted before each container is built, and json/jsonb arrive as
their text (JsonText), which is parsed only once its values are counted.
"""

import base64
import datetime as dt
import decimal
import ipaddress
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from pydantic import JsonValue

from mcp_postgres.errors import QueryRejected


class JsonText(str):
    """A json or jsonb value as PostgreSQL sent it; to_json parses it."""


class TooManyValues(Exception):
    """The values counted so far passed the limit."""


class ValueMeter:
    """The values a result may still hold."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise TooManyValues


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")

# pydantic, which checks and writes the result, stops near 200 levels of nesting, json.loads
# near 1000: a deeper json value failed the whole query with their errors.
MAX_JSON_DEPTH = 100


def json_structure(text: str) -> str:
    """A JSON text without its strings, so that every bracket, ':' and ',' left in it is
    the structure's."""
    return _JSON_STRING.sub("", text) if '"' in text else text


def json_values_in(structure: str) -> int:
    """At least the number of values a JSON text (its json_structure) holds, at most twice
    it: every value but the outermost follows a ':' or a ','."""
    return 1 + structure.count(":") + structure.count(",")


def json_deeper_than(structure: str, levels: int) -> bool:
    """Whether a JSON text (its json_structure) nests arrays and objects more than `levels`
    deep."""
    if structure.count("[") + structure.count("{") <= levels:
        return False
    depth = 0
    for bracket in _NOT_BRACKETS.sub("", structure):
        depth += 1 if bracket in "[{" else -1
        if depth > levels:
            return True
    return False


def to_json(value: Any, meter: ValueMeter) -> JsonValue:
    """`value` as JSON; the caller has counted `value` itself, this counts what it holds."""
    match value:
        case JsonText():
            structure = json_structure(value)
            meter.take(json_values_in(structure) - 1)
            if json_deeper_than(structure, MAX_JSON_DEPTH):
                raise QueryRejected(
                    f"sql: a json or jsonb value is nested more than {MAX_JSON_DEPTH} levels"
                    " deep, deeper than a result can carry; select it as text (::text)"
                )
            # PostgreSQL's json is valid JSON without NaN: json.loads' output is JSON-safe.
            return json.loads(value)
        case None | bool() | int() | str():
            return value
        case float():
            # NaN and infinities are valid in PostgreSQL but not in JSON.
            return (
                value
                if value == value and value not in (float("inf"), float("-inf"))
                else str(value)
            )
        case decimal.Decimal():
            # A string keeps every digit of numeric values; floats would round them.
            return str(value)
        case dt.datetime() | dt.date() | dt.time():
            return value.isoformat()
        case dt.timedelta():
            return value.total_seconds()
        case uuid.UUID() | ipaddress.IPv4Address() | ipaddress.IPv6Address():
            return str(value)
        case ipaddress.IPv4Network() | ipaddress.IPv6Network():
            return str(value)
        case ipaddress.IPv4Interface() | ipaddress.IPv6Interface():
            return str(value)
        case bytes() | bytearray() | memoryview():
            return base64.b64encode(bytes(value)).decode("ascii")
        case asyncpg.Record():
            meter.take(len(value))
            return {key: to_json(item, meter) for key, item in value.items()}
        case asyncpg.Range():
            meter.take(2)
            return {
                "lower": to_json(value.lower, meter),
                "upper": to_json(value.upper, meter),
                "lower_inc": value.lower_inc,
                "upper_inc": value.upper_inc,
                "empty": value.isempty,
            }
        case asyncpg.BitString():
            return value.as_string()
        # Before Path: asyncpg's Polygon is a Path that is always closed.
        case asyncpg.Polygon():
            meter.take(len(value))
            return [to_json(point, meter) for point in value]
        case asyncpg.Path():
            meter.take(len(value))
            return {"points": [to_json(point, meter) for point in value], "closed": value.is_closed}
        case Mapping():
            meter.take(len(value))
            return {str(key): to_json(item, meter) for key, item in value.items()}
        case list() | tuple() | set() | frozenset():
            meter.take(len(value))
            return [to_json(item, meter) for item in value]
        case _:
            return str(value)
