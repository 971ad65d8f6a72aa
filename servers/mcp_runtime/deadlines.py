"""Deadlines of many waits held to by one event loop timer, instead of a timer per wait.

Every request waits for its body under a deadline (MCP_BODY_TIMEOUT_SECONDS), and every call a
gateway relays waits for its upstream under one (the upstream's `timeout_seconds`). A timer per
wait (`asyncio.timeout`) cost about 15 µs of the ~200 µs a trivial tool call spends in the
app, for a wait that nearly always ends long before: a body comes in the packet of its
headers, an upstream answers in a millisecond. So a wait is noted in a dict instead, and one
timer, due at the earliest deadline among the waits, cancels the waits whose deadline has
passed; a wait ending earlier leaves the timer as it is (it finds nothing to do when it
comes). With the same timeout for every wait the earliest deadline is the oldest wait's, and
the timer is set again only once it has fired.

`Deadlines.within` awaits under a deadline as `asyncio.timeout` does, and tells the
deadline's cancellation from any other of the task's as it does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# Once the drain has begun, a request still receiving its body has this long to finish it:
# long enough for a busy client that wrote its headers to write its body (an SDK client's
# follow-up request got 408 under load with 2 s), short against the 20 s drain.
DRAIN_BODY_GRACE_SECONDS = 5.0


class DeadlinePassed(TimeoutError):
    """The deadline of a wait (`Deadlines.within`) passed before what it awaited was done."""


class Wait:
    """One task's wait under a deadline (`Deadlines.waiting`)."""

    __slots__ = ("cancelling", "expired", "started", "task", "timeout")

    def __init__(self, task: asyncio.Task[object], started: float, timeout: float) -> None:
        self.task = task
        self.started = started
        self.timeout = timeout
        # As asyncio.timeout tells its own cancellation from others'.
        self.cancelling = task.cancelling()
        self.expired = False


class Deadlines:
    """Waits of one event loop, each ending `timeout` seconds after it started at the latest
    (see the module docstring)."""

    def __init__(self) -> None:
        self._waiting: dict[Wait, None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = math.inf

    def deadline(self, started: float, timeout: float) -> float:
        """The event loop time by which a wait that started at `started` ends."""
        return started + timeout

    async def within(self, started: float, timeout: float, awaitable: Awaitable[T]) -> T:
        """`awaitable`'s result, if it is done by `deadline(started, timeout)` (`started`
        in event loop time); else it is cancelled and DeadlinePassed raised."""
        wait = self.waiting(started, timeout)
        try:
            result = await awaitable
        except asyncio.CancelledError:
            if self.ended(wait):
                raise DeadlinePassed from None
            raise
        except BaseException:
            self.ended(wait)
            raise
        self.ended(wait)
        return result

    def waiting(self, started: float, timeout: float) -> Wait:
        """Note that the current task now waits, since `started` (loop time), for at most
        `timeout` seconds from then; `ended` must follow."""
        task = asyncio.current_task()
        assert task is not None
        if task.get_loop() is not self._loop:
            # Another loop than the last wait's (after the `asyncio.run` a server starts in,
            # or in tests): that loop's timer and waits do not run here.
            self._loop = task.get_loop()
            self._waiting.clear()
            self._timer = None
            self._timer_due = math.inf
        wait = Wait(task, started, timeout)
        self._waiting[wait] = None
        deadline = self.deadline(started, timeout)
        if deadline < self._timer_due:
            self._set_timer(deadline)
        return wait

    def ended(self, wait: Wait) -> bool:
        """Whether `wait` was cut short by its deadline: the task's cancellation is then ours,
        as asyncio.timeout decides (withdrawn, and not also someone else's)."""
        self._waiting.pop(wait, None)
        return wait.expired and wait.task.uncancel() <= wait.cancelling

    def deadlines_changed(self) -> None:
        """Set the timer again after `deadline` has begun to give other answers."""
        self._set_timer(self._earliest())

    def _earliest(self) -> float:
        return min(
            (self.deadline(w.started, w.timeout) for w in self._waiting if not w.expired),
            default=math.inf,
        )

    def _set_timer(self, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_due = due
        if due < math.inf:
            assert self._loop is not None
            self._timer = self._loop.call_at(due, self._expire)

    def _expire(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for wait in self._waiting:
            if not wait.expired and self.deadline(wait.started, wait.timeout) <= now:
                wait.expired = True
                wait.task.cancel()
        self._timer = None
        self._set_timer(self._earliest())


class BodyDeadlines(Deadlines):
    """When the request bodies still being received must be complete.

    The drain brings them forward: a client trickling its body in would otherwise hold the
    drain open for up to the whole body timeout (30 s by default, the drain's own is 20 s).
    """

    def __init__(self) -> None:
        super().__init__()
        self._drain_started: float | None = None

    def deadline(self, started: float, timeout: float) -> float:
        deadline = started + timeout
        if self._drain_started is not None:
            cutoff = max(started, self._drain_started) + DRAIN_BODY_GRACE_SECONDS
            deadline = min(deadline, cutoff)
        return deadline

    def hurry(self) -> None:
        """From now on, give bodies still to come at most the drain's grace period."""
        self._drain_started = asyncio.get_running_loop().time()
        self.deadlines_changed()
