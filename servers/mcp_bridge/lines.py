"""Split a child's output into lines without ever holding more than a bounded amount of it."""

from __future__ import annotations

from dataclasses import dataclass

# How much of the start and end of an over-long line is kept: enough to find the JSON-RPC id
# wherever a server writes it (Python SDKs put it first, the TypeScript SDK last).
KEEP_BYTES = 1024


@dataclass(frozen=True)
class LongLine:
    """A line longer than the limit: only its size and its two ends were kept."""

    size: int
    head: bytes
    tail: bytes


class LineSplitter:
    """Feeds bytes in, yields complete lines; a line over `limit` bytes becomes a LongLine.

    The rest of a long line is counted and discarded as it arrives, so a child writing an
    enormous message costs the bridge `limit` bytes of memory at most.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = bytearray()
        self._long: LongLine | None = None

    def feed(self, chunk: bytes) -> list[bytes | LongLine]:
        lines: list[bytes | LongLine] = []
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            self._take(chunk[start:] if newline < 0 else chunk[start:newline])
            if newline < 0:
                return lines
            if (line := self._end_line()) is not None:
                lines.append(line)
            start = newline + 1

    def finish(self) -> list[bytes | LongLine]:
        """The last line, when the output ended without a newline."""
        line = self._end_line()
        return [] if line is None else [line]

    def _take(self, piece: bytes) -> None:
        if not piece:
            return
        if self._long is not None:
            long = self._long
            self._long = LongLine(
                long.size + len(piece), long.head, (long.tail + piece[-KEEP_BYTES:])[-KEEP_BYTES:]
            )
            return
        if len(self._buffer) + len(piece) <= self._limit:
            self._buffer += piece
            return
        head = bytes(self._buffer[:KEEP_BYTES])
        if len(head) < KEEP_BYTES:
            head += piece[: KEEP_BYTES - len(head)]
        tail = (bytes(self._buffer[-KEEP_BYTES:]) + piece[-KEEP_BYTES:])[-KEEP_BYTES:]
        self._long = LongLine(len(self._buffer) + len(piece), head, tail)
        self._buffer = bytearray()

    def _end_line(self) -> bytes | LongLine | None:
        if self._long is not None:
            line: bytes | LongLine = self._long
            self._long = None
            return line
        line = bytes(self._buffer).rstrip(b"\r")
        self._buffer.clear()
        return line if line.strip() else None
