"""Log lines: the timestamp and the JSON every event is written with."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from mcp_runtime.log_lines import UtcTimestamp, json_line_renderer

NS = 1_000_000_000


def expected_timestamp(ns: int) -> str:
    second, rest = divmod(ns, NS)
    moment = datetime.datetime.fromtimestamp(second, datetime.UTC).replace(microsecond=rest // 1000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


MOMENTS = [
    0,
    NS - 1,  # the last microsecond of a second
    1_796_000_000 * NS,  # a whole second: still six digits
    1_796_000_000 * NS + 1_000,
    1_835_395_199 * NS + 999_999_999,  # the end of 2028-02-28, a leap year
    1_835_395_200 * NS + 123_456_789,  # 2028-02-29
    2_147_483_648 * NS + 7,  # past 2038
]


def test_timestamps_are_rfc3339_utc_to_the_microsecond_across_seconds() -> None:
    # Then the same second again, and the next one: the cached date and time must follow.
    readings = [*MOMENTS, MOMENTS[2] + 5_000, MOMENTS[2] + NS]
    clock = iter(readings)
    stamp = UtcTimestamp(clock=lambda: next(clock))
    stamped = [stamp(None, "info", {})["timestamp"] for _ in readings]
    assert stamped == [expected_timestamp(ns) for ns in readings]
    assert stamped[5] == "2028-02-29T00:00:00.123456Z"


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


@pytest.mark.parametrize(
    ("fields", "read_back"),
    [
        (
            {"tool": "echo", "outcome": "ok", "duration_ms": 0.027, "error_type": None},
            {"tool": "echo", "outcome": "ok", "duration_ms": 0.027, "error_type": None},
        ),
        (
            {"text": "é ☃ 😀", "n": 10**30, "ratio": 1e-7},
            {"text": "é ☃ 😀", "n": 10**30, "ratio": 1e-7},
        ),
        (
            {"nested": {"a": [1, (2, 3)]}, "flag": True},
            {"nested": {"a": [1, [2, 3]]}, "flag": True},
        ),
        # No JSON of its own: written as structlog writes it, its repr.
        ({"value": Opaque()}, {"value": "<opaque>"}),
        # Text pydantic cannot encode still makes a line, as json.dumps writes it.
        ({"text": "a\ud800b"}, {"text": "a\ud800b"}),
    ],
    ids=["a tool call", "non-ASCII and numbers", "nesting", "an object", "a lone surrogate"],
)
def test_an_event_is_one_ascii_json_line_with_its_fields(
    fields: dict[str, Any], read_back: dict[str, Any]
) -> None:
    line = json_line_renderer()(None, "info", {"event": "e", **fields})
    assert isinstance(line, str)
    assert line.isascii() and "\n" not in line
    assert json.loads(line) == {"event": "e", **read_back}
