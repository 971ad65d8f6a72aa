"""Turn the Python values asyncpg returns into JSON-safe values for structured results."""

import base64
import datetime as dt
import decimal
import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
from pydantic import JsonValue


def to_json(value: Any) -> JsonValue:
    match value:
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
            return {key: to_json(item) for key, item in value.items()}
        case asyncpg.Range():
            return {
                "lower": to_json(value.lower),
                "upper": to_json(value.upper),
                "lower_inc": value.lower_inc,
                "upper_inc": value.upper_inc,
                "empty": value.isempty,
            }
        case Mapping():
            return {str(key): to_json(item) for key, item in value.items()}
        case list() | tuple() | set() | frozenset():
            return [to_json(item) for item in value]
        case _:
            return str(value)
