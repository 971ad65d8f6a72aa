"""What the log says of readiness checks: a failure when it starts, not at every probe.

A kubelet probes /ready every few seconds, so a warning per failed probe would repeat a
database outage, or a memory index rebuilding for twenty minutes, hundreds of times.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

# While the same check keeps failing, its warning is repeated this often, with its latest
# reason (a rebuild's progress, say), so that a long outage still shows in recent logs.
REPEAT_SECONDS = 60.0

_log = structlog.get_logger("mcp_runtime.probes")


class ReadinessLog:
    """Logs `readiness_check_failed` (warning) when a check starts failing or another check
    fails instead, again every REPEAT_SECONDS while it lasts, and `readiness_restored` (info)
    when the checks pass again; each with how long the server has not been ready
    (`failing_seconds`), whichever checks failed in that time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failing: str | None = None
        self._since = 0.0
        self._logged_at = 0.0

    def failed(self, check: str, reason: str) -> None:
        now = self._clock()
        if check != self._failing:
            if self._failing is None:
                self._since = now
            self._failing = check
        elif now - self._logged_at < REPEAT_SECONDS:
            return
        self._logged_at = now
        _log.warning(
            "readiness_check_failed",
            check=check,
            reason=reason,
            failing_seconds=round(now - self._since, 1),
        )

    def passed(self) -> None:
        if self._failing is None:
            return
        _log.info(
            "readiness_restored",
            check=self._failing,
            failing_seconds=round(self._clock() - self._since, 1),
        )
        self._failing = None
