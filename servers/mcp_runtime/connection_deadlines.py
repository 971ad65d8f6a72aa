"""Connections' deadlines of one kind (a request's headers, an idle keep-alive connection)
held to by one event loop timer, instead of a timer per request.

uvicorn arms a keep-alive timer after every answer and cancels it when the next request's
bytes come; the header deadline (header_timeout.py) is armed when a request begins and
cancelled when its headers are complete: two timers made and cancelled for every request
(about 2 µs each of uvloop's), for deadlines that almost never pass. A kind has one timeout
for every connection of a server, so its deadlines come in the order they were set: they are
kept in that order in a dict, and one timer, due at the first, runs the callbacks of those
that have passed and is set again for the next one still to come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class ConnectionDeadlines:
    """Deadlines `seconds` after they are set, each with the callback run if it passes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # In the order set, which is the order due.
        self._due: dict[object, tuple[float, Callable[[], None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._running = False

    def set(
        self, connection: object, loop: asyncio.AbstractEventLoop, passed: Callable[[], None]
    ) -> None:
        """Run `passed` once `seconds` have passed, unless `clear`ed (or set again) before."""
        if loop is not self._loop:
            # Another loop than the last connection's (a server started again, in tests):
            # the old loop's timer does not run here.
            self._loop = loop
            self._due.clear()
            self._timer = None
        due = loop.time() + self.seconds
        self._due.pop(connection, None)
        self._due[connection] = (due, passed)
        if self._timer is None and not self._running:
            self._timer = loop.call_at(due, self._run_passed)

    def clear(self, connection: object) -> None:
        self._due.pop(connection, None)

    def _run_passed(self) -> None:
        loop = self._loop
        assert loop is not None
        self._timer = None
        self._running = True
        try:
            now = loop.time()
            while self._due:
                connection = next(iter(self._due))
                due, passed = self._due[connection]
                if due > now:
                    break
                del self._due[connection]
                passed()
        finally:
            self._running = False
            if self._due:
                due, _ = next(iter(self._due.values()))
                self._timer = loop.call_at(due, self._run_passed)
