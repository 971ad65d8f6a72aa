"""The checks every argument passes before a store sees it, for the tools and /tasks alike.

Values arrive as the caller sent them (tools take their arguments unconverted, /tasks
passes path and query strings on), so one set of rules decides what an id is, whichever
way it came in. They stop what the stores cannot hold: ids and offsets are 64-bit
integers in both (SQLite INTEGER, PostgreSQL BIGINT), text is stored as UTF-8, which a
lone surrogate cannot be encoded in, and PostgreSQL's text cannot hold NUL (SQLite can:
without this check the two stores disagreed).
"""

import re

from mcp_todo.errors import InvalidArgument
from mcp_todo.models import TASK_STATUSES

MAX_INT64 = 2**63 - 1
MAX_TITLE_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 10_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50

# ASCII only: int() also takes " 1", "1_0" and the digits of every other script.
_ASCII_INTEGER = re.compile(r"-?[0-9]+")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Enough of a value to recognise it; a quoted megabyte would only bloat the error.
MAX_SHOWN = 40


def task_id(value: object) -> int:
    return _integer("task_id", value, 1, MAX_INT64)


def page_size(value: object) -> int:
    return _integer("limit", value, 1, MAX_PAGE_SIZE)


def offset(value: object) -> int:
    return _integer("offset", value, 0, MAX_INT64)


def title(value: object) -> str:
    text = _text("title", value, MAX_TITLE_LENGTH, strip=True)
    if not text:
        raise InvalidArgument("title", "must not be empty")
    return text


def description(value: object) -> str:
    return _text("description", value, MAX_DESCRIPTION_LENGTH)


def status(value: object) -> str:
    if not isinstance(value, str) or value not in TASK_STATUSES:
        raise InvalidArgument(
            "status", f"must be one of {', '.join(TASK_STATUSES)}; got {shown(value)}"
        )
    return value


def shown(value: object) -> str:
    """`value` as an error message quotes it: a repr, so NUL and surrogates come out escaped."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        # An int of more than 4300 digits, or a structure nested too deeply to print.
        return f"<{type(value).__name__} too large to print>"
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[: MAX_SHOWN - 1]}... ({len(text)} characters)"


def _integer(argument: str, value: object, low: int, high: int) -> int:
    number = _as_integer(value)
    if number is None or not low <= number <= high:
        raise InvalidArgument(
            argument, f"must be an integer between {low} and {high}; got {shown(value)}"
        )
    return number


def _as_integer(value: object) -> int | None:
    # bool is an int subclass; true must not mean task 1.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    # JSON Schema counts 1.0 as an integer, and clients may send one.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _ASCII_INTEGER.fullmatch(value):
        try:
            return int(value)
        except ValueError:  # over 4300 digits: far beyond any bound anyway
            return None
    return None


def _text(argument: str, value: object, max_length: int, *, strip: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(argument, f"must be a string; got {shown(value)}")
    text = value.strip() if strip else value
    if len(text) > max_length:
        raise InvalidArgument(argument, f"must be at most {max_length} characters")
    # Searched as sent, so that the index points into what the caller has.
    if unstorable := _UNSTORABLE.search(value):
        char = unstorable.group()
        what = "NUL (U+0000)" if char == "\x00" else f"an unpaired surrogate (U+{ord(char):04X})"
        raise InvalidArgument(argument, f"must not contain {what} at index {unstorable.start()}")
    return text
