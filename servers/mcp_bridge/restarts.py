"""When to restart a crashed child, and when to stop trying."""

from __future__ import annotations

from collections import deque


class RestartPolicy:
    """Exponential backoff over the crashes of a sliding window; too many is a crash loop.

    A child that crashes once in a while restarts after the first delay; one that keeps
    crashing waits longer each time, and the bridge gives up (so that Kubernetes restarts
    the pod and alerts on it) once `max_crashes` fall within `window` seconds.
    """

    def __init__(
        self, first_delay: float, max_delay: float, max_crashes: int, window: float
    ) -> None:
        self._first_delay = first_delay
        self._max_delay = max_delay
        self.max_crashes = max_crashes
        self.window = window
        self._crashes: deque[float] = deque()

    def crashed(self, now: float) -> float | None:
        """Record a crash at `now` (monotonic seconds); the delay before the restart, or
        None for a crash loop."""
        self._crashes.append(now)
        while self._crashes and self._crashes[0] <= now - self.window:
            self._crashes.popleft()
        if len(self._crashes) >= self.max_crashes:
            return None
        return min(self._first_delay * 2 ** (len(self._crashes) - 1), self._max_delay)

    @property
    def recent_crashes(self) -> int:
        return len(self._crashes)
