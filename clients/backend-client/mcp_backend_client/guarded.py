"""Run one call to a server: per-attempt timeout, the breaker, retries only when safe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pybreaker
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mcp_backend_client import metrics
from mcp_backend_client.breaker import Breaker
from mcp_backend_client.errors import BackendUnavailable, ToolRejected
from mcp_backend_client.settings import Resilience

_log = structlog.get_logger("mcp_backend_client")

T = TypeVar("T")


class ServerError(Exception):
    """A REST answer of 5xx: the server is there but failing."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


def _reason(error: BaseException) -> str:
    if isinstance(error, pybreaker.CircuitBreakerError):
        return "breaker_open"
    if isinstance(error, TimeoutError):
        return "timeout"
    if isinstance(error, ServerError):
        return "server_error"
    return "connection"


class Guard:
    """The breaker and retry policy of one server."""

    def __init__(self, server: str, resilience: Resilience) -> None:
        self.server = server
        self.breaker = Breaker(server, resilience)
        self._resilience = resilience

    async def run(self, operation: str, safe: bool, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` until it succeeds, is rejected, or (when `safe`) attempts run out.

        Raises ToolRejected as the server sent it, and BackendUnavailable for the rest.
        """
        settings = self._resilience
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.retry_attempts if safe else 1),
            wait=wait_exponential_jitter(
                multiplier=settings.retry_initial_seconds,
                max=settings.retry_max_seconds,
                jitter=settings.retry_initial_seconds,
            ),
            retry=retry_if_exception(self._worth_repeating),
            before_sleep=lambda state: self._retrying(operation, state),
            reraise=True,
        )
        try:
            return await retrying(self._once, operation, attempt)
        except ToolRejected:
            raise
        except Exception as error:
            # Once open, the breaker said so already (breaker_opened); each call it turns
            # away is no news.
            level = "debug" if isinstance(error, pybreaker.CircuitBreakerError) else "warning"
            getattr(_log, level)(
                "give_up",
                server=self.server,
                operation=operation,
                attempts=retrying.statistics.get("attempt_number", 1),
                reason=_reason(error),
                error=_describe(error),
            )
            raise BackendUnavailable(
                self.server, operation, _describe(error), self.breaker.retry_after()
            ) from error

    async def _once(self, operation: str, attempt: Callable[[], Awaitable[T]]) -> T:
        try:
            with self.breaker.guard():
                async with asyncio.timeout(self._resilience.timeout_seconds):
                    return await attempt()
        except ToolRejected:
            raise
        except Exception as error:
            metrics.FAILURES.labels(self.server, operation, _reason(error)).inc()
            raise

    def _worth_repeating(self, error: BaseException) -> bool:
        # An open breaker stays open for longer than any backoff.
        return not (
            isinstance(error, ToolRejected | pybreaker.CircuitBreakerError)
            or self.breaker.state == pybreaker.STATE_OPEN
        )

    def _retrying(self, operation: str, state: RetryCallState) -> None:
        metrics.RETRIES.labels(self.server, operation).inc()
        error = state.outcome.exception() if state.outcome else None
        _log.info(
            "retry",
            server=self.server,
            operation=operation,
            attempt=state.attempt_number,
            sleep_seconds=round(state.upcoming_sleep, 3),
            error=_describe(error) if error else None,
        )


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "no answer within the timeout"
    # FastMCP wraps connect failures ("Client failed to connect: ..."); the innermost cause
    # with a message is what an operator can act on (connection refused, timeout).
    while error.__cause__ is not None and not str(error):
        error = error.__cause__
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
