"""Waits end at their deadline by one shared timer, whose cancellation is told from anyone
else's as asyncio.timeout tells it; the drain brings request bodies' deadlines forward."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from mcp_runtime.deadlines import (
    DRAIN_BODY_GRACE_SECONDS,
    BodyDeadlines,
    DeadlinePassed,
    Deadlines,
)


async def wait_for_body(deadlines: BodyDeadlines, timeout: float, body: asyncio.Event) -> str:
    """'body', 'deadline', or the CancelledError."""
    try:
        await deadlines.within(asyncio.get_running_loop().time(), timeout, body.wait())
    except DeadlinePassed:
        return "deadline"
    return "body"


class CountedTimers:
    """The loop's `call_at`, counting the timers set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        self.set = 0
        call_at = loop.call_at

        def counted(when: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
            self.set += 1
            return call_at(when, callback, *args)

        monkeypatch.setattr(loop, "call_at", counted)


async def test_a_body_past_its_deadline_ends_the_wait_and_one_in_time_does_not() -> None:
    deadlines = BodyDeadlines()
    late, in_time = asyncio.Event(), asyncio.Event()
    waits = [
        asyncio.create_task(wait_for_body(deadlines, 0.05, late)),
        asyncio.create_task(wait_for_body(deadlines, 0.05, in_time)),
    ]
    await asyncio.sleep(0.01)
    in_time.set()
    assert await asyncio.gather(*waits) == ["deadline", "body"]
    # Neither task is left marked as cancelled.
    assert [task.cancelling() for task in waits] == [0, 0]


async def test_waits_with_one_timeout_share_one_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    timers = CountedTimers(monkeypatch)
    deadlines = BodyDeadlines()
    bodies = [asyncio.Event() for _ in range(50)]
    waits = [asyncio.create_task(wait_for_body(deadlines, 30, body)) for body in bodies]
    await asyncio.sleep(0)
    for body in bodies:
        body.set()
    assert await asyncio.gather(*waits) == ["body"] * 50
    # The next requests' waits find the timer due before their deadlines already.
    body = asyncio.Event()
    body.set()
    assert await wait_for_body(deadlines, 30, body) == "body"
    assert timers.set == 1


async def test_a_wait_cancelled_by_someone_else_is_not_a_deadline() -> None:
    deadlines = BodyDeadlines()
    wait = asyncio.create_task(wait_for_body(deadlines, 30, asyncio.Event()))
    await asyncio.sleep(0)
    wait.cancel()
    with pytest.raises(asyncio.CancelledError):
        await wait


async def test_a_wait_also_cancelled_by_someone_else_stays_cancelled() -> None:
    # As with asyncio.timeout: the deadline's cancellation is withdrawn, the other one's kept.
    deadlines = BodyDeadlines()
    wait = asyncio.create_task(wait_for_body(deadlines, 0.01, asyncio.Event()))
    await asyncio.sleep(0)
    loop = asyncio.get_running_loop()
    loop.call_later(0.02, wait.cancel)
    # Both cancellations come in the same turn of the loop, before the task runs again.
    loop.call_soon(time.sleep, 0.05)
    with pytest.raises(asyncio.CancelledError):
        await wait


async def test_the_drain_brings_the_deadline_of_waits_forward() -> None:
    deadlines = BodyDeadlines()
    loop = asyncio.get_running_loop()
    started = loop.time()
    wait = asyncio.create_task(wait_for_body(deadlines, 3600, asyncio.Event()))
    await asyncio.sleep(0)
    deadlines.hurry()
    assert deadlines.deadline(started, 3600) == pytest.approx(
        started + DRAIN_BODY_GRACE_SECONDS, abs=0.5
    )
    # The timer now comes at the grace period's end, not the hour's.
    async with asyncio.timeout(DRAIN_BODY_GRACE_SECONDS + 2):
        assert await wait == "deadline"


def test_deadlines_carry_over_to_the_next_event_loop() -> None:
    # A server starts in one loop (asyncio.run at start) and serves in another; a timer set
    # in the first would never fire in the second.
    deadlines = Deadlines()

    async def ended_at_once() -> None:
        body = asyncio.Event()
        body.set()
        await deadlines.within(asyncio.get_running_loop().time(), 0.05, body.wait())

    async def cut_by_its_deadline() -> str:
        async with asyncio.timeout(5):
            try:
                await deadlines.within(asyncio.get_running_loop().time(), 0.2, asyncio.sleep(10))
            except DeadlinePassed:
                return "deadline"
        return "done"

    asyncio.run(ended_at_once())
    assert asyncio.run(cut_by_its_deadline()) == "deadline"
