"""Hold a query's result rows to a byte budget as they come off the socket.

asyncpg reads a whole DataRow message into its buffer, then decodes it, before any code of
ours sees the row: a 150 MB value costs some 300 MB before a size check after the fetch can
refuse it, and a batch of 100 such rows 100 times that. So the check sits between the socket
and asyncpg: a filter on the connection's transport follows the protocol's framing (a type
byte and a 4-byte length, then the payload) and, while a budget is set, passes DataRow
messages to asyncpg only while they fit. It decides on a row from its 5-byte header, before
the payload arrives, so an oversized value is never buffered.

At the first row that does not fit, the filter ends the fetch for asyncpg as PostgreSQL ends
one that reached its row limit (PortalSuspended, then ReadyForQuery), so asyncpg returns the
rows that fit, and passes nothing more: the connection is out of step with the server from
then on, and is closed (the caller terminates it; the filter also aborts it on the next turn
of the event loop). PostgreSQL ends the statement once it can no longer send. This holds for
every statement kind (SELECT, EXPLAIN, SHOW, ...) without rewriting the SQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

_DATA_ROW = ord("D")
_READY_FOR_QUERY = ord("Z")
# A message starts with its type byte and a 4-byte big-endian length that counts itself.
_HEADER = 5
# PortalSuspended, then ReadyForQuery inside a transaction block: a fetch that stopped at its
# row limit, as asyncpg expects the end of Execute(n) + Sync.
_END_OF_FETCH = b"s\x00\x00\x00\x04" + b"Z\x00\x00\x00\x05T"


class RowBudget(asyncio.Protocol):
    """Sits between a connection's transport and asyncpg's protocol; see the module doc."""

    def __init__(self, transport: asyncio.Transport, inner: asyncio.Protocol) -> None:
        self._transport = transport
        self._inner = inner
        # Where the stream is: bytes left of the current message's payload, and the first
        # bytes of a header split across reads.
        self._payload_left = 0
        self._partial_header = b""
        # None: no budget set, everything passes.
        self._allowance: int | None = None
        self._fetching = False
        self.refused = False
        # Set when a fetch was ended here: the connection must not be used again.
        self.severed = False

    @classmethod
    def on(cls, conn: asyncpg.Connection) -> RowBudget:
        """The budget filter of `conn`, put in place now if it has none.

        Call it while no command is running, so that the stream is between two messages.
        """
        # asyncpg offers no public handle on its transport; the pinned version's is _transport.
        transport: asyncio.Transport = conn._transport
        current = transport.get_protocol()
        if isinstance(current, RowBudget):
            return current
        budget = cls(transport, current)  # type: ignore[arg-type]
        transport.set_protocol(budget)
        return budget

    @contextmanager
    def limited(self, max_bytes: int) -> Iterator[RowBudget]:
        """Let at most `max_bytes` of DataRow messages through until the block ends."""
        self._allowance = max_bytes
        self.refused = False
        try:
            yield self
        finally:
            self._allowance = None
            self._fetching = False

    def narrow(self, max_bytes: int) -> None:
        """Let at most `max_bytes` through from now on, if that is fewer."""
        if self._allowance is not None:
            self._allowance = min(self._allowance, max_bytes)

    def fetch_starts(self) -> None:
        """An Execute with a row limit was sent: a refused row may end it (see module doc)."""
        self._fetching = True

    def _admit(self, size: int) -> bool:
        if self._allowance is None:
            return True
        if size > self._allowance:
            self.refused = True
            return False
        self._allowance -= size
        return True

    def data_received(self, data: bytes) -> None:
        if self.severed:
            return
        size = len(data)
        pos = 0
        held = self._partial_header
        if self._payload_left:
            pos = min(self._payload_left, size)
            self._payload_left -= pos
        elif held:
            # A header begun in the previous read, held back until its length is known.
            needed = _HEADER - len(held)
            if size < needed:
                self._partial_header = held + data
                return
            self._partial_header = b""
            pos = self._message(held + data[:needed], -len(held), size)
            if pos < 0:
                self._sever([])
                return
        while pos < size:
            if size - pos < _HEADER:
                self._partial_header = data[pos:]
                self._pass(held, data[:pos])
                return
            end = self._message(data[pos : pos + _HEADER], pos, size)
            if end < 0:
                self._sever([held, data[:pos]])
                return
            pos = end
        self._pass(held, data)

    def _message(self, header: bytes, start: int, size: int) -> int:
        """Where the message whose `header` begins at `start` of a read of `size` bytes ends
        in that read, noting what is left of it for the next reads; -1 when it is refused."""
        kind = header[0]
        length = int.from_bytes(header[1:_HEADER], "big")
        if kind == _DATA_ROW and not self._admit(1 + length):
            return -1
        if kind == _READY_FOR_QUERY:
            self._fetching = False
        end = start + 1 + length
        if end > size:
            self._payload_left = end - size
            return size
        return end

    def _pass(self, held: bytes, data: bytes) -> None:
        if held:
            data = held + data
        if data:
            self._inner.data_received(data)

    def _sever(self, passed: list[bytes]) -> None:
        """Hand asyncpg what came before the refused row, end its fetch, stop listening."""
        self.severed = True
        fetching = self._fetching
        if fetching:
            passed.append(_END_OF_FETCH)
        self._pass(b"", b"".join(passed))
        if fetching:
            # After the caller's task has seen the end of the fetch (scheduled first).
            asyncio.get_running_loop().call_soon(self._transport.abort)
        else:
            # No fetch to end (not expected): the pending command fails as disconnected.
            self._transport.abort()

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
