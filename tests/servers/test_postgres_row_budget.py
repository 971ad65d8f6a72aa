"""The row budget reads the protocol's framing right however the socket splits the stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from mcp_postgres.row_budget import RowBudget


def message(kind: bytes, payload: bytes) -> bytes:
    return kind + (len(payload) + 4).to_bytes(4, "big") + payload


def data_row(value: bytes) -> bytes:
    return message(b"D", (1).to_bytes(2, "big") + len(value).to_bytes(4, "big") + value)


DESCRIPTION = message(b"T", b"\x00\x01r\x00" + bytes(18))
ROWS = [data_row(b"a" * 10), data_row(b"b" * 300), data_row(b"c" * 5000), data_row(b"d")]
SUSPENDED = message(b"s", b"")
READY = message(b"Z", b"T")
STREAM = DESCRIPTION + b"".join(ROWS) + SUSPENDED + READY
END_OF_FETCH = SUSPENDED + READY


class FakeTransport:
    def __init__(self) -> None:
        self.protocol: object = None
        self.aborted = False

    def get_protocol(self) -> object:
        return self.protocol

    def set_protocol(self, protocol: object) -> None:
        self.protocol = protocol

    def abort(self) -> None:
        self.aborted = True


class Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = bytearray()

    def data_received(self, data: bytes) -> None:
        self.received += data


class FakeConnection:
    def __init__(self) -> None:
        self._transport = FakeTransport()
        self.inner = Recorder()
        self._transport.protocol = self.inner


def splits(stream: bytes) -> Iterator[list[bytes]]:
    """The stream in two reads at every position, then one byte per read."""
    for cut in range(1, len(stream)):
        yield [stream[:cut], stream[cut:]]
    yield [stream[i : i + 1] for i in range(len(stream))]


def feed(reads: list[bytes], *, budget: int | None, fetching: bool) -> tuple[bytes, RowBudget]:
    conn = FakeConnection()
    row_budget = RowBudget.on(conn)  # type: ignore[arg-type]
    assert RowBudget.on(conn) is row_budget, "installed once"  # type: ignore[arg-type]
    if budget is None:
        for chunk in reads:
            row_budget.data_received(chunk)
        return bytes(conn.inner.received), row_budget
    with row_budget.limited(budget):
        if fetching:
            row_budget.fetch_starts()
        for chunk in reads:
            row_budget.data_received(chunk)
    return bytes(conn.inner.received), row_budget


@pytest.mark.parametrize("budget", [None, sum(map(len, ROWS))])
def test_rows_within_the_budget_pass_unchanged(budget: int | None) -> None:
    for reads in splits(STREAM):
        passed, row_budget = feed(reads, budget=budget, fetching=True)
        assert passed == STREAM
        assert not row_budget.refused and not row_budget.severed


async def test_a_fetch_ends_at_the_first_row_over_the_budget() -> None:
    # Room for the first two rows and part of the third.
    budget = len(ROWS[0]) + len(ROWS[1]) + 100
    for reads in splits(STREAM):
        passed, row_budget = feed(reads, budget=budget, fetching=True)
        assert passed == DESCRIPTION + ROWS[0] + ROWS[1] + END_OF_FETCH
        assert row_budget.refused and row_budget.severed
        transport = row_budget._transport
        assert not transport.aborted, "aborted only once the caller has seen its rows"
        await asyncio.sleep(0)
        assert transport.aborted


def test_a_row_over_the_budget_outside_a_fetch_drops_the_connection_at_once() -> None:
    for reads in splits(STREAM):
        passed, row_budget = feed(reads, budget=len(ROWS[0]), fetching=False)
        assert passed == DESCRIPTION + ROWS[0]
        assert row_budget.refused and row_budget._transport.aborted


def test_an_oversized_row_is_never_passed_on_even_in_part() -> None:
    huge = data_row(b"x" * 1_000_000)
    stream = DESCRIPTION + huge + READY
    conn = FakeConnection()
    row_budget = RowBudget.on(conn)  # type: ignore[arg-type]
    with row_budget.limited(1000):
        # Off the socket in 64 KiB reads, as the event loop delivers it.
        for start in range(0, len(stream), 65536):
            row_budget.data_received(stream[start : start + 65536])
    assert bytes(conn.inner.received) == DESCRIPTION
