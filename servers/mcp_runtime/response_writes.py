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

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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
    reads, waiting for writes to drain) stays on the transport itself."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = HeldWrites(transport, self.loop)  # type: ignore[assignment]
