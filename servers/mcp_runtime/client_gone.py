"""A 2026-07-28 call is cancelled when its client closes the connection it waits on.

In the 2026-07-28 revision a client over HTTP cancels a request by closing the request's
response stream (it has no `notifications/cancelled` to send), and the MCP SDK cancels the
handler when the event stream it answers on closes. The runtime answers in plain JSON, where
the SDK does not listen: a call whose client had gone (its timeout, a gateway's deadline, a
gateway's own caller gone) ran to its end for nobody, holding a database query, a stdio
server or an upstream's call through a gateway as long as it took. `CancelledWhenClientLeaves`
listens in front of the SDK's endpoint, and the fast path around the calls it serves itself.

Listening takes a task that waits for the connection's next ASGI message; most calls end
within milliseconds, so a call is listened for only once it has run `LISTEN_AFTER_SECONDS`.
One sweep, every `LISTEN_AFTER_SECONDS` while calls are in flight, finds those calls: a timer
per call would cost 4 µs of uvloop's each, where noting the call in a dict costs about one.

Handshake-era (2025-11-25) calls are left alone: in that revision a disconnect explicitly is
not a cancellation (the client sends `notifications/cancelled` instead, which a stateless
server cannot match to a call in flight without letting one caller cancel another's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TypeVar

from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_runtime.asgi_body import read_body, replay
from mcp_runtime.protocol_generation import session_less

T = TypeVar("T")

# A call is listened for once it has run this long: a shorter one ends before its client's
# leaving could save more than the listener's task costs.
LISTEN_AFTER_SECONDS = 0.25


class CancelledWhenClientLeaves:
    """ASGI layer: a 2026-07-28 POST whose client closes the connection before the answer
    begins is cancelled (its body is read first, and handed on as it came)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._watch = ClientWatch()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and session_less(Headers(scope=scope).get(MCP_PROTOCOL_VERSION_HEADER))
        ):
            await self._app(scope, receive, send)
            return
        received, body = await read_body(receive)
        replayed = replay(received, receive)
        if body is None:  # gone while sending it: the endpoint finds that out itself
            await self._app(scope, replayed, send)
            return
        answering = AnswerStarted(send)
        with suppress(ClientGone):
            await self._watch.unless_client_leaves(
                receive, self._app(scope, replayed, answering), lambda: answering.started
            )


class ClientGone(Exception):
    """The client closed its connection before its call ended; the call was cancelled."""


class ClientWatch:
    """The calls in flight whose clients may leave, in one event loop."""

    def __init__(self) -> None:
        # In the order they came: the calls that have run longest first.
        self._calls: dict[_Call, None] = {}
        self._sweep: asyncio.TimerHandle | None = None

    async def unless_client_leaves(
        self, receive: Receive, call: Awaitable[T], answered: Callable[[], bool] | None = None
    ) -> T:
        """`call`'s result, or ClientGone once the client has closed the connection whose
        request `receive` has read (`call` is cancelled then, at its next await).

        `receive` must be past the request's body, so that listening takes nothing `call`
        reads. When `call` answers the request itself, `answered` says whether it has begun
        to: a server notes a complete answer as a disconnect too, and a call that has
        answered is left to finish."""
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        entry = _Call(receive, answered, task, loop.time())
        self._calls[entry] = None
        if self._sweep is None:
            self._sweep = loop.call_later(LISTEN_AFTER_SECONDS, self._listen_to_long_calls)
        try:
            return await call
        except asyncio.CancelledError:
            # Ours alone, as asyncio.timeout tells its own cancellation from others'.
            if entry.gone and task.uncancel() <= entry.cancelling:
                raise ClientGone from None
            raise
        finally:
            del self._calls[entry]
            if entry.listener is not None:
                entry.listener.cancel()

    def _listen_to_long_calls(self) -> None:
        loop = asyncio.get_running_loop()
        since = loop.time() - LISTEN_AFTER_SECONDS
        for entry in self._calls:
            if entry.started_at > since:
                break
            if entry.listener is None:
                entry.listener = loop.create_task(entry.listen())
        self._sweep = (
            loop.call_later(LISTEN_AFTER_SECONDS, self._listen_to_long_calls)
            if self._calls
            else None
        )


class _Call:
    __slots__ = ("answered", "cancelling", "gone", "listener", "receive", "started_at", "task")

    def __init__(
        self,
        receive: Receive,
        answered: Callable[[], bool] | None,
        task: asyncio.Task[object],
        started_at: float,
    ) -> None:
        self.receive = receive
        self.answered = answered
        self.task = task
        self.cancelling = task.cancelling()
        self.started_at = started_at
        self.listener: asyncio.Task[None] | None = None
        self.gone = False

    async def listen(self) -> None:
        # The body has been read: all that can come is the disconnect.
        while (await self.receive())["type"] != "http.disconnect":
            pass
        if self.answered is None or not self.answered():
            self.gone = True
            self.task.cancel()


class AnswerStarted:
    """A `send` that notes when the answer has begun (`unless_client_leaves`' `answered`)."""

    __slots__ = ("_send", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
