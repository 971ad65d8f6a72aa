"""How a tool call reaches one upstream: within the upstream's deadline, tried again while no
connection could be made, failed at once while the upstream's circuit is open, and failures
said in the upstream's name.

The circuit breaker is pybreaker's and the retries tenacity's, as in the backend client
(clients/backend-client): pybreaker's state machine runs synchronously, on the event loop's
one thread, and its listeners feed the metrics and logs below. It is told each call's outcome
once the call has one: pybreaker knows only successes and failures, and a call cancelled by
its caller is neither (around the call, it took one for a success, which reset the streak of
failures and closed the circuit of an upstream still down). Only a call that could not
reach the upstream, was answered 502, 503 or 504 (by a proxy in front of it, with no healthy
upstream), or got no answer within the deadline, counts as a failure: an upstream that
answers, even with an error, is up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import httpx2
import mcp_types
import pybreaker
import structlog
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_runtime.deadlines import DeadlinePassed, Deadlines
from prometheus_client import CollectorRegistry, Counter, Enum
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mcp_gateway.connections import UnavailableStatus, error_statuses
from mcp_gateway.settings import Upstream

T = TypeVar("T")

# A call that failed with one of these never sent its request (FastMCP's clients and
# `http1` raise both).
_CONNECT_FAILURES = (httpx2.ConnectError, httpx2.ConnectTimeout)
# What MCP clients make of an upstream that gave no answer: the connection closed, or a
# timeout (the SDK's session; FastMCP's client turns a connect timeout into HTTP's 408).
_NO_ANSWER = frozenset({mcp_types.CONNECTION_CLOSED, mcp_types.REQUEST_TIMEOUT, 408})

# The statuses that say the caller's credentials were refused, and what a refusal adds.
_REFUSALS = frozenset({401, 403})
_REFUSED = ": the caller's Authorization, passed on unchanged, does not admit it"

# Called with the upstream's name and whether it just answered a call (False: unreachable).
Answered = Callable[[str, bool, str | None], None]

# After the first retry, which goes at once, the next waits this long (plus up to as much
# again, so that the gateway's replicas do not retry in step), each next one twice as long,
# up to the cap.
FIRST_RETRY_SECONDS = 0.1
LONGEST_RETRY_WAIT_SECONDS = 1.0

_log = structlog.get_logger("mcp_gateway.upstream")

# Event name and log level of each state a circuit enters.
_EVENTS = {
    pybreaker.STATE_OPEN: ("upstream_circuit_opened", "warning"),
    pybreaker.STATE_HALF_OPEN: ("upstream_circuit_half_open", "info"),
    pybreaker.STATE_CLOSED: ("upstream_circuit_closed", "info"),
}


class UpstreamUnavailable(ToolError):
    """The upstream could not be reached, or did not answer in time: only its tools fail."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"upstream '{name}' is unavailable: {reason}", log_level=logging.WARNING)


class UpstreamBusy(ToolError):
    """The upstream has as many calls in flight as it may: this one fails at once."""

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(
            f"upstream '{name}' is busy: {limit} calls are in flight, its max_concurrent_calls;"
            " try again shortly",
            log_level=logging.WARNING,
        )


class UpstreamCallMetrics:
    """What the upstreams' circuits and retries did, per upstream."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.circuit_state = Enum(
            "mcp_gateway_upstream_circuit_state",
            "State of the circuit breaker in front of the upstream; open: its tools fail at"
            " once, without a try.",
            ["server"],
            states=list(_EVENTS),
            registry=registry,
        )
        self.short_circuited = Counter(
            "mcp_gateway_upstream_short_circuited",
            "Tool calls failed at once because the upstream's circuit was open.",
            ["server"],
            registry=registry,
        )
        self.busy = Counter(
            "mcp_gateway_upstream_busy",
            "Tool calls failed at once because the upstream had max_concurrent_calls in flight.",
            ["server"],
            registry=registry,
        )
        self.retries = Counter(
            "mcp_gateway_upstream_connect_retries",
            "Tool calls tried again because no connection to the upstream could be made.",
            ["server"],
            registry=registry,
        )


class UpstreamCalls(pybreaker.CircuitBreakerListener):
    """The way every tool call to the upstream `name` goes (`run`)."""

    def __init__(
        self, name: str, upstream: Upstream, answered: Answered, metrics: UpstreamCallMetrics
    ) -> None:
        self.name = name
        self._timeout = upstream.timeout_seconds
        self._deadlines = Deadlines()
        self._attempts = 1 + upstream.connect_retries
        self._answered = answered
        self._metrics = metrics
        metrics.circuit_state.labels(server=name).state(pybreaker.STATE_CLOSED)
        for counter in (metrics.short_circuited, metrics.retries, metrics.busy):
            counter.labels(server=name)
        self._limit = upstream.max_concurrent_calls
        self._calls_in_flight = 0
        self._policy = upstream.circuit_breaker
        self._opened_at = 0.0
        self._breaker: pybreaker.CircuitBreaker | None = None
        if self._policy.failures:
            self._breaker = pybreaker.CircuitBreaker(
                fail_max=self._policy.failures,
                reset_timeout=self._policy.open_seconds,
                listeners=[self],
                name=name,
                # The call's own error, which says what went wrong, rather than pybreaker's.
                throw_new_error_on_trip=False,
            )

    def open_for(self) -> float | None:
        """Seconds the circuit stays open, or None when calls go through."""
        if self._breaker is None or self._breaker.current_state != pybreaker.STATE_OPEN:
            return None
        left = self._opened_at + self._policy.open_seconds - time.monotonic()
        return left if left > 0 else None

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`'s result, or UpstreamUnavailable (a ToolError naming the upstream) when the
        upstream cannot be reached, does not answer within the deadline, or its circuit is
        open, or UpstreamBusy when it has as many calls in flight as it may; the upstream's
        own errors as the upstream gave them."""
        if not self._limit:
            return await self._guarded(call)
        if self._calls_in_flight >= self._limit:
            self._metrics.busy.labels(server=self.name).inc()
            raise UpstreamBusy(self.name, self._limit)
        self._calls_in_flight += 1
        try:
            return await self._guarded(call)
        finally:
            self._calls_in_flight -= 1

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        if self._breaker is None:
            return await self._within_deadline(call)
        self._admit(self._breaker)
        try:
            result = await self._within_deadline(call)
        except UpstreamUnavailable as failure:
            self._count(self._breaker, failure)
            raise
        except Exception:
            # It answered: a tool's error or a refusal says nothing against the upstream.
            self._count(self._breaker, None)
            raise
        # (A call cancelled, its caller gone, is counted neither way: CancelledError is no
        # Exception.)
        self._count(self._breaker, None)
        return result

    def _admit(self, breaker: pybreaker.CircuitBreaker) -> None:
        """Let the call through, or fail it at once while the circuit is open; once its open
        time has passed, the circuit is half-open (as pybreaker's own call makes it)."""
        if breaker.current_state != pybreaker.STATE_OPEN:
            return
        if (left := self.open_for()) is None:
            breaker.half_open()
            return
        self._metrics.short_circuited.labels(server=self.name).inc()
        raise UpstreamUnavailable(
            self.name,
            f"its circuit is open after {self._policy.failures} failed calls in a row;"
            f" calls are tried again in {left:.0f} s",
        )

    def _count(
        self, breaker: pybreaker.CircuitBreaker, failure: UpstreamUnavailable | None
    ) -> None:
        """Tell the circuit a call's outcome: a success, or `failure`."""
        try:
            with breaker.calling():
                if failure is not None:
                    raise failure
        except UpstreamUnavailable:
            pass  # counted; the caller raises it
        except pybreaker.CircuitBreakerError:
            pass  # opened by another call while this one ran: its outcome comes too late

    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self._opened_at = time.monotonic()
        self._metrics.circuit_state.labels(server=self.name).state(new_state.name)
        event, level = _EVENTS[new_state.name]
        getattr(_log, level)(
            event,
            upstream=self.name,
            previous=old_state.name if old_state else None,
            failures=cb.fail_counter,
            open_seconds=self._policy.open_seconds,
        )

    async def _within_deadline(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call` within the deadline, saying which upstream failed it when it could not be
        reached or refused it, and reporting whether the upstream answered."""
        try:
            with error_statuses() as statuses:
                result = await self._deadlines.within(
                    asyncio.get_running_loop().time(), self._timeout, self._retrying(call)
                )
        except DeadlinePassed:
            reason = f"no answer within {self._timeout:g} s"
            self._answered(self.name, False, reason)
            raise UpstreamUnavailable(self.name, f"{reason} (its timeout_seconds)") from None
        except TimeoutError as error:
            self._unreachable(error)  # the HTTP client's own timeout
        except ToolError:
            self._answered(self.name, True, None)  # the tool's own error
            raise
        except MCPError as error:
            if error.error.code in _NO_ANSWER:
                self._unreachable(error)
            self._answered(self.name, True, None)
            if error.error.code == mcp_types.INTERNAL_ERROR and statuses:
                # What the SDK's client makes of an HTTP error status, 401 and 403 included:
                # FastMCP would say only "Error calling tool", without the upstream's name.
                raise ToolError(
                    f"upstream '{self.name}' refused the call: {error.error.message}"
                    f" (HTTP {statuses[-1]}{_REFUSED if statuses[-1] in _REFUSALS else ''})",
                    log_level=logging.INFO,
                ) from None
            raise  # the upstream's own protocol error, as FastMCP's proxy relays it
        except Exception as error:  # connect failures surface as RuntimeError or httpx errors
            self._unreachable(error)
        self._answered(self.name, True, None)
        return result

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        # The first attempt outside tenacity, whose loop costs more than a relayed call's
        # own overhead: the retries are the rare case.
        try:
            return await call()
        except Exception as error:
            if self._attempts == 1 or (cause := connect_error(error)) is None:
                raise
            self._retrying_after(cause, attempt=2)
        # The first retry goes at once: a new connection, which the Service may send to
        # another replica. The next ones back off.
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts - 1),
            wait=wait_exponential_jitter(
                multiplier=FIRST_RETRY_SECONDS,
                max=LONGEST_RETRY_WAIT_SECONDS,
                jitter=FIRST_RETRY_SECONDS,
            ),
            retry=retry_if_exception(not_connected),
            before_sleep=self._retrying_again,
            reraise=True,
        ):
            with attempt:
                return await call()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _retrying_again(self, state: RetryCallState) -> None:
        failed = state.outcome.exception() if state.outcome else None
        cause = connect_error(failed) if failed else None
        self._retrying_after(cause, attempt=state.attempt_number + 2)

    def _retrying_after(self, cause: BaseException | None, attempt: int) -> None:
        self._metrics.retries.labels(server=self.name).inc()
        _log.info(
            "upstream_connect_retry",
            upstream=self.name,
            attempt=attempt,
            error=describe(cause) if cause else None,
        )

    def _unreachable(self, error: BaseException) -> NoReturn:
        reason = describe(error)
        self._answered(self.name, False, reason)
        raise UpstreamUnavailable(self.name, reason) from None


def not_connected(error: BaseException) -> bool:
    """Whether the call failed before its request left: no connection could be made."""
    return connect_error(error) is not None


def connect_error(error: BaseException) -> BaseException | None:
    """The failure to connect behind `error`, wrapped or not (by FastMCP's client, in an
    exception group, by the SDK's transport), or None."""
    return _behind(error, _CONNECT_FAILURES)


def _behind(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The exception of one of `kinds` behind `error`, wrapped or not, or None."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        cause = pending.pop()
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, kinds):
            return cause
        if isinstance(cause, BaseExceptionGroup):
            pending.extend(cause.exceptions)
        pending.extend(c for c in (cause.__cause__, cause.__context__) if c is not None)
    return None


def describe(error: BaseException) -> str:
    # FastMCP wraps connect failures ("Client failed to connect: ..."); the innermost
    # cause is what an operator can act on (connection refused, 401, timeout), and an
    # unavailable status wherever the SDK's task groups put it.
    if (status := _behind(error, (UnavailableStatus,))) is not None:
        return str(status)
    while error.__cause__ is not None and not str(error):
        error = error.__cause__
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
