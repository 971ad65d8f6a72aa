"""Serving state of one app: started, draining, the requests still in flight and when
their bodies must have arrived."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcp_runtime.deadlines import BodyDeadlines


class Lifecycle:
    """What /ready and the SIGTERM drain need to know about the app."""

    def __init__(self) -> None:
        self.started = False
        self.draining = False
        self.in_flight = 0
        self.body_deadlines = BodyDeadlines()
        self._last_finished = -math.inf
        self._idle = asyncio.Event()
        self._idle.set()

    def request_started(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        self.in_flight -= 1
        self._last_finished = time.monotonic()
        if self.in_flight == 0:
            self._idle.set()

    def begin_drain(self) -> None:
        """Turn /ready false; requests keep being served until the process stops."""
        self.draining = True

    async def wait_quiet(self, timeout: float, quiet: float) -> bool:
        """Wait until no request has been in flight for `quiet` seconds.

        The quiet period lets a client's follow-up to a call it just got back (FastMCP and
        SDK clients may list tools to validate a result) still reach the server.
        Returns False when requests were still in flight after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if self.in_flight:
                try:
                    await asyncio.wait_for(self._idle.wait(), max(remaining, 0))
                except TimeoutError:
                    return False
                continue
            quiet_left = self._last_finished + quiet - time.monotonic()
            if quiet_left <= 0 or remaining <= 0:
                return True
            await asyncio.sleep(min(quiet_left, remaining))


class InFlightRequests:
    """ASGI middleware counting HTTP requests from arrival until the response is sent.

    Requests for which `untracked(scope)` is true are served without being counted.
    """

    def __init__(
        self, app: ASGIApp, lifecycle: Lifecycle, untracked: Callable[[Scope], bool]
    ) -> None:
        self._app = app
        self._lifecycle = lifecycle
        self._untracked = untracked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._untracked(scope):
            await self._app(scope, receive, send)
            return
        self._lifecycle.request_started()
        try:
            await self._app(scope, receive, send)
        finally:
            self._lifecycle.request_finished()


class CloseConnectionsWhileDraining:
    """ASGI middleware asking clients, once the drain has begun, to close their connection
    after each response (`Connection: close`).

    A kept-alive connection stays with the pod it was opened to, whatever the Service's
    endpoints say since: a client that keeps calling on it would keep the draining pod busy
    until the drain timed out, and then lose the call it had sent as the connection closed.
    Told to close, the client opens its next connection through the Service to a pod that
    is staying.
    """

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self._app = app
        self._lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self._lifecycle.draining:
                message = closing(message)
            await send(message)

        await self._app(scope, receive, send_closing)


def closing(start: Message) -> Message:
    """The `http.response.start` message `start` with `Connection: close` as its only
    Connection header."""
    headers = [
        (name, value) for name, value in start.get("headers", []) if name.lower() != b"connection"
    ]
    return {**start, "headers": [*headers, (b"connection", b"close")]}
