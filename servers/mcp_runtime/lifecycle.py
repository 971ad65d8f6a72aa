"""Serving state of one app: started, draining, and the requests still in flight."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class Lifecycle:
    """What /ready and the SIGTERM drain need to know about the app."""

    def __init__(self) -> None:
        self.started = False
        self.draining = False
        self.in_flight = 0
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
