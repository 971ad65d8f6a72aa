"""When to restart a crashed child, and when to stop trying."""

from __future__ import annotations

from collections import deque


class RestartPolicy:
    """Exponential backoff over the crashes of a sliding window; too many is a crash loop.

    A child that crashes once in a while restarts after the first delay; one that keeps
    crashing waits longer each time, and the bridge gives up (so that Kubernetes restarts
    the pod and alerts on it) once `max_crashes` fall within `window` seconds, or once
    `max_crashes` starts in a row failed: a start that times out takes the start-up timeout
    (30 s by default), so such starts could never fall 5 in a 60 s window.
    """

    def __init__(
        self, first_delay: float, max_delay: float, max_crashes: int, window: float
    ) -> None:
        self._first_delay = first_delay
        self._max_delay = max_delay
        self.max_crashes = max_crashes
        self.window = window
        self._crashes: deque[float] = deque()
        self.failed_starts = 0

    def crashed(self, now: float, *, started: bool = True) -> float | None:
        """Record a crash at `now` (monotonic seconds) of a run that got through its start
        (`started`) or not; the delay before the restart, or None for a crash loop."""
        self.failed_starts = 0 if started else self.failed_starts + 1
        self._crashes.append(now)
        while self._crashes and self._crashes[0] <= now - self.window:
            self._crashes.popleft()
        crashes = max(len(self._crashes), self.failed_starts)
        if crashes >= self.max_crashes:
            return None
        return min(self._first_delay * 2 ** (crashes - 1), self._max_delay)

    @property
    def recent_crashes(self) -> int:
        return len(self._crashes)
