"""Connected FastMCP proxy clients of one upstream, each lent to one call at a time.

FastMCP's proxy builds, connects and closes a client for every request: most of what a
call through the gateway costs. In the 2026-07-28 generation a request carries all it needs
(no session, no handshake), so a connected client can serve one call after another. It
cannot serve two at once: the MCP SDK's client ends its whole session when one of its HTTP
requests fails (a refused connection, a 401), and every call in flight on it would fail
with that one. So each call borrows a client of its own and returns it afterwards; a client
whose session ended is dropped, and the next call connects a new one.

A client is connected in a task of its own, in an empty context: nothing of the request that
first needed it (its headers, its FastMCP context) stays with the client. Each call's own
headers reach the upstream through `UpstreamConnections.carrying`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastmcp import Client

# As many idle clients as idle keep-alive connections (connections._LIMITS): one for each
# call of a burst of 100 concurrent calls.
MAX_IDLE = 100


class _Held:
    """One client, connected and kept open by its own task until released."""

    def __init__(self, client: Client) -> None:
        self.client = client
        # What ended its session, as leaving `async with client` raises it.
        self.ended_by: Exception | None = None
        self.connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._released = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(
            self._hold(), context=contextvars.Context()
        )

    def release(self) -> None:
        self._released.set()

    async def _hold(self) -> None:
        try:
            async with self.client:
                self.connected.set_result(None)
                await self._released.wait()
        except Exception as error:
            if not self.connected.done():
                self.connected.set_exception(error)
            self.ended_by = error


class LentClients:
    """Clients from `new_client` (FastMCP's proxy client factory, era set to `version`)."""

    def __init__(self, new_client: Callable[[], Client], version: str) -> None:
        self._new_client = new_client
        self.version = version
        self._idle: list[_Held] = []
        self._held: set[_Held] = set()
        self._closed = False

    @asynccontextmanager
    async def lent(self) -> AsyncIterator[Client]:
        """A connected client, for one call; raises what connecting raised, and what ended
        the client's session during the call (as leaving FastMCP's `async with client`
        does, in place of the call's own error)."""
        held = self._idle.pop() if self._idle else await self._connected()
        try:
            yield held.client
        finally:
            if not held.client.is_connected():
                held.release()
                await asyncio.shield(held.task)
                if held.ended_by is not None:
                    raise held.ended_by
            elif self._closed or len(self._idle) >= MAX_IDLE:
                held.release()
            else:
                self._idle.append(held)

    async def aclose(self) -> None:
        """Close every client; a call still holding one closes it when it returns it."""
        self._closed = True
        idle, self._idle = self._idle, []
        for held in idle:
            held.release()
        await asyncio.gather(*(held.task for held in list(self._held)), return_exceptions=True)

    async def _connected(self) -> _Held:
        client = self._new_client()
        client.mode = self.version
        held = _Held(client)
        self._held.add(held)
        held.task.add_done_callback(lambda _: self._held.discard(held))
        await asyncio.shield(held.connected)
        return held
