"""A response's head and body leave in one write, where uvicorn writes each as it comes.

uvicorn's httptools protocol writes the status line and headers on `http.response.start` and
the body on `http.response.body`: two `write` calls and two TCP segments for every answer,
and on loopback or a pod network each costs the sender the stack's work for a segment.
`HeldWrites` stands in for the connection's transport: a write is held until the next one,
which takes it along, or until the end of the loop's turn, so a head whose body follows at once
(every JSON answer) leaves with it, and one whose body comes later (an event stream) still
leaves at once. Every write of the connection goes through it, the protocol's own answers
(400, 408) included, so none can overtake a held one.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_log = structlog.get_logger("mcp_runtime.response_writes")


class HeldWrites:
    """A connection's transport whose `write` holds its bytes until the next write or the end
    of the loop's turn; `close` sends what is held first."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._held = data
            self._loop.call_soon(self._send_held)
        else:
            self._transport.write(self._held + data)
            self._held = None

    def _send_held(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._send_held()
        self._transport.close()

    def __getattr__(self, name: str) -> object:
        # Whatever else the protocol asks of its transport (set_protocol, get_extra_info) is
        # the transport's own; only a missing attribute comes here, so writes pay nothing.
        return getattr(self._transport, name)


class HeldWritesProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through `HeldWrites`; its flow control (pausing
    reads, waiting for writes to drain) stays on the transport itself.

    Writes that stay paused for `send_timeout` seconds (MCP_SEND_TIMEOUT_SECONDS), the client
    reading none of what is sent, drop the connection: uvicorn would wait for ever, the
    answer held in memory and its request counted in flight, holding the drain.
    """

    send_timeout: ClassVar[float] = 60.0
    _unread: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = HeldWrites(transport, self.loop)  # type: ignore[assignment]

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._unread is None:
            self._unread = self.loop.call_later(self.send_timeout, self._drop_unread)

    def resume_writing(self) -> None:
        self._stop_unread_clock()
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_unread_clock()
        super().connection_lost(exc)

    def _stop_unread_clock(self) -> None:
        if self._unread is not None:
            self._unread.cancel()
            self._unread = None

    def _drop_unread(self) -> None:
        self._unread = None
        client = self.client
        _log.warning(
            "response_unread",
            client=None if client is None else f"{client[0]}:{client[1]}",
            timeout_seconds=self.send_timeout,
        )
        # abort, not close: close would wait to send what the client does not read.
        self.transport.abort()
