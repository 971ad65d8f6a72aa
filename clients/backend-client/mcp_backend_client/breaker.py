"""A circuit breaker per server (pybreaker), reported in metrics and logs."""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import AbstractContextManager

import pybreaker
import structlog

from mcp_backend_client import metrics
from mcp_backend_client.errors import ToolRejected
from mcp_backend_client.settings import Resilience

_log = structlog.get_logger("mcp_backend_client")

# Event name and log level of each state the breaker enters.
_EVENTS = {
    pybreaker.STATE_OPEN: ("breaker_opened", "warning"),
    pybreaker.STATE_HALF_OPEN: ("breaker_half_open", "info"),
    pybreaker.STATE_CLOSED: ("breaker_closed", "info"),
}


def _not_a_failure(error: BaseException) -> bool:
    # A rejection is an answer. A caller that went away says nothing about the server.
    return isinstance(error, ToolRejected | asyncio.CancelledError)


class Breaker(pybreaker.CircuitBreakerListener):
    """Closed, open after `breaker_failure_threshold` consecutive failed attempts, half-open
    `breaker_reset_seconds` later: the calls that come then are trials (pybreaker does not
    limit them to one), and `breaker_success_threshold` successes close it again.

    `guard()` wraps an attempt (`with breaker.guard(): await ...`): pybreaker's state machine
    runs synchronously before and after the block, so it works around an await on the one
    thread of the event loop. An open breaker raises `pybreaker.CircuitBreakerError` on entry,
    before anything touches the network.
    """

    def __init__(self, server: str, resilience: Resilience) -> None:
        self.server = server
        self._reset_seconds = resilience.breaker_reset_seconds
        self._opened_at = 0.0
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=resilience.breaker_failure_threshold,
            reset_timeout=resilience.breaker_reset_seconds,
            success_threshold=resilience.breaker_success_threshold,
            exclude=[_not_a_failure],
            listeners=[self],
            name=server,
            # The attempt's own error, which says what went wrong, rather than pybreaker's.
            throw_new_error_on_trip=False,
        )
        metrics.BREAKER_STATE.labels(server).state(pybreaker.STATE_CLOSED)

    @property
    def state(self) -> str:
        return self._breaker.current_state

    def guard(self) -> AbstractContextManager[None]:
        return self._breaker.calling()  # type: ignore[no-any-return]

    def retry_after(self) -> int:
        """Whole seconds until the breaker lets a trial call through (1 when it is not open)."""
        if self.state != pybreaker.STATE_OPEN:
            return 1
        remaining = self._opened_at + self._reset_seconds - time.monotonic()
        return max(1, math.ceil(remaining))

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self._opened_at = time.monotonic()
        metrics.BREAKER_STATE.labels(self.server).state(new_state.name)
        event, level = _EVENTS[new_state.name]
        getattr(_log, level)(
            event,
            server=self.server,
            previous=old_state.name if old_state else None,
            failures=cb.fail_counter,
        )
