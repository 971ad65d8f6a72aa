"""Accept every waiting connection each time the listening socket wakes the event loop.

uvloop's servers take one connection per turn of the loop: libuv 1.46 stopped accepting in a
loop, to spread connections over processes that share one listening socket. A busy server's
turn is long (100 keep-alive clients at ~0.3 ms a call make a turn of ~30 ms), so when many
clients connect at once the last of them waited a turn each for its first answer: with wrk
opening 100 connections to a trivial tool, 1 % of calls took 0.2-1 s where the rest took 30 ms
(`bench/servers.py`, the workers table). asyncio's own servers accept up to their backlog per
wake-up, as Go's server does. `AcceptingServer` does that on any loop, handing each connection
to the loop with `connect_accepted_socket`. Workers each listen on a socket of their own
(SO_REUSEPORT), where the kernel spreads the connections, so taking them all costs no balance.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

import structlog

_log = structlog.get_logger("mcp_runtime.accepting")

# accept() failing otherwise (for want of descriptors or memory, mostly) leaves the
# connection queued, which would wake the loop again at once. Paused this long, as asyncio's
# servers do, other connections can end and free what the next accept needs.
RESUME_AFTER_SECONDS = 1.0

# A connection its client reset while it waited: there is nothing to serve.
GONE_BEFORE_ACCEPT = frozenset({errno.ECONNABORTED, errno.EPROTO})


class AcceptingServer:
    """Listens on `sock` and serves each connection with a protocol from `protocol_factory`,
    taking up to `backlog` waiting connections per wake-up. Closes like `asyncio.Server`,
    which is all uvicorn asks of the servers it shuts down."""

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        backlog: int,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._resume: asyncio.TimerHandle | None = None
        # Held until each is done: the loop keeps only weak references to tasks.
        self._handing_over: set[asyncio.Task[object]] = set()
        self._closed = False
        sock.setblocking(False)
        sock.listen(backlog)
        self._loop.add_reader(sock.fileno(), self._accept_waiting)

    def _accept_waiting(self) -> None:
        for _ in range(self._backlog):
            try:
                connection, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in GONE_BEFORE_ACCEPT:
                    continue
                self._pause(exc)
                return
            self._hand_over(connection)

    def _hand_over(self, connection: socket.socket) -> None:
        task = self._loop.create_task(self._serve(connection))
        self._handing_over.add(task)
        task.add_done_callback(self._handing_over.discard)

    async def _serve(self, connection: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._protocol_factory, connection)
        except OSError as exc:
            # Reset between accept() and the transport taking it over.
            connection.close()
            _log.debug("connection_lost_before_served", reason=exc.strerror or str(exc))

    def _pause(self, exc: OSError) -> None:
        _log.warning(
            "accepting_paused",
            reason=exc.strerror or str(exc),
            resume_after_seconds=RESUME_AFTER_SECONDS,
        )
        self._loop.remove_reader(self._sock.fileno())
        self._resume = self._loop.call_later(RESUME_AFTER_SECONDS, self._resume_accepting)

    def _resume_accepting(self) -> None:
        self._resume = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept_waiting)

    def close(self) -> None:
        """Stop accepting and close the listening socket; connections already accepted go on."""
        if self._closed:
            return
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def wait_closed(self) -> None:
        """Return once every accepted connection has been handed to its protocol."""
        if self._handing_over:
            await asyncio.wait(set(self._handing_over))
