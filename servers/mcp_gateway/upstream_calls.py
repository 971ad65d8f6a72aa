"""How a tool call reaches one upstream: within the upstream's deadline, tried again while no
connection could be made, failed at once while the upstream's circuit is open, and failures
said in the upstream's name.

The circuit breaker is purgatory's (asyncio-native and typed; its state-change events feed
the metrics and logs below), the retries tenacity's (jittered exponential backoff). Only a
call that could not reach the upstream, or got no answer within the deadline, counts as a
failure: an upstream that answers, even with an error, is up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn, TypeVar

import aiohttp
import httpx2
import mcp_types
import structlog
from fastmcp.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from prometheus_client import CollectorRegistry, Counter, Gauge
from purgatory import AsyncCircuitBreakerFactory, ContextChanged, Event
from purgatory.domain.model import OPENED, OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from mcp_gateway.settings import Upstream

if TYPE_CHECKING:
    from purgatory.service._async.circuitbreaker import AsyncCircuitBreaker

T = TypeVar("T")

# Called with the upstream's name and whether it just answered a call (False: unreachable).
Answered = Callable[[str, bool, str | None], None]

# The first retry waits this long (plus up to as much again, so that the gateway's replicas
# do not retry in step), each next one twice as long, up to the cap.
FIRST_RETRY_SECONDS = 0.1
LONGEST_RETRY_WAIT_SECONDS = 1.0

_log = structlog.get_logger("mcp_gateway.upstream")


class UpstreamUnavailable(ToolError):
    """The upstream could not be reached, or did not answer in time: only its tools fail."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"upstream '{name}' is unavailable: {reason}", log_level=logging.WARNING)


class UpstreamCallMetrics:
    """What the upstreams' circuits and retries did, per upstream."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.circuit_open = Gauge(
            "mcp_gateway_upstream_circuit_open",
            "1 while the upstream's circuit is open: its tools fail at once, without a try.",
            ["server"],
            registry=registry,
        )
        self.short_circuited = Counter(
            "mcp_gateway_upstream_short_circuited",
            "Tool calls failed at once because the upstream's circuit was open.",
            ["server"],
            registry=registry,
        )
        self.retries = Counter(
            "mcp_gateway_upstream_connect_retries",
            "Tool calls tried again because no connection to the upstream could be made.",
            ["server"],
            registry=registry,
        )


class UpstreamCalls:
    """The way every tool call to the upstream `name` goes (`run`)."""

    def __init__(
        self, name: str, upstream: Upstream, answered: Answered, metrics: UpstreamCallMetrics
    ) -> None:
        self.name = name
        self._timeout = upstream.timeout_seconds
        self._attempts = 1 + upstream.connect_retries
        self._answered = answered
        self._metrics = metrics
        for metric in (metrics.circuit_open, metrics.short_circuited, metrics.retries):
            metric.labels(server=name)
        self._policy = upstream.circuit_breaker
        self._breakers: AsyncCircuitBreakerFactory | None = None
        self._breaker: AsyncCircuitBreaker | None = None
        if self._policy.failures:
            self._breakers = AsyncCircuitBreakerFactory(
                default_threshold=self._policy.failures,
                default_ttl=self._policy.open_seconds,
                # Only an unreachable upstream fails the circuit: a call that raised anything
                # else (a tool error, the caller going away) says nothing against it.
                exclude=[(BaseException, lambda error: not isinstance(error, UpstreamUnavailable))],
            )
            self._breakers.add_listener(self._circuit_changed)

    def open_for(self) -> float | None:
        """Seconds the circuit stays open, or None when calls go through."""
        if self._breaker is None:
            return None
        context = self._breaker.context
        if context.state != OPENED or context.opened_at is None:
            return None
        left = context.opened_at + context.ttl - time.time()
        return left if left > 0 else None

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """`call`'s result, or UpstreamUnavailable (a ToolError naming the upstream) when the
        upstream cannot be reached, does not answer within the deadline, or its circuit is
        open; the upstream's own errors as the upstream gave them."""
        if self._breakers is None:
            return await self._within_deadline(call)
        if self._breaker is None:
            self._breaker = await self._breakers.get_breaker(self.name)
        try:
            async with self._breaker:
                return await self._within_deadline(call)
        except OpenedState as circuit:
            # purgatory raises the open state itself each time: drop this call's traceback so
            # that tracebacks do not pile up on it while the circuit stays open.
            circuit.with_traceback(None)
            self._metrics.short_circuited.labels(server=self.name).inc()
            left = self.open_for() or 0.0
            raise UpstreamUnavailable(
                self.name,
                f"its circuit is open after {self._policy.failures} failed calls in a row;"
                f" calls are tried again in {left:.0f} s",
            ) from None

    async def _within_deadline(self, call: Callable[[], Awaitable[T]]) -> T:
        deadline = asyncio.timeout(self._timeout)
        with self._errors_named():
            try:
                async with deadline:
                    return await self._retrying(call)
            except TimeoutError:
                if not deadline.expired():
                    raise  # the HTTP client's own timeout: the upstream cannot be reached
                self._answered(self.name, False, f"no answer within {self._timeout:g} s")
                raise UpstreamUnavailable(
                    self.name, f"no answer within {self._timeout:g} s (its timeout_seconds)"
                ) from None

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        if self._attempts == 1:
            return await call()
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=FIRST_RETRY_SECONDS,
                max=LONGEST_RETRY_WAIT_SECONDS,
                jitter=FIRST_RETRY_SECONDS,
            ),
            retry=retry_if_exception(not_connected),
            before_sleep=self._retrying_after,
            reraise=True,
        ):
            with attempt:
                return await call()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _retrying_after(self, state: RetryCallState) -> None:
        self._metrics.retries.labels(server=self.name).inc()
        failed = state.outcome.exception() if state.outcome else None
        cause = connect_error(failed) if failed else None
        _log.info(
            "upstream_connect_retry",
            upstream=self.name,
            attempt=state.attempt_number + 1,
            error=describe(cause) if cause else None,
        )

    def _circuit_changed(self, _name: str, _kind: str, event: Event) -> None:
        if not isinstance(event, ContextChanged):
            return
        state = event.state
        self._metrics.circuit_open.labels(server=self.name).set(1 if state == OPENED else 0)
        if state == OPENED:
            _log.warning(
                "upstream_circuit_opened",
                upstream=self.name,
                failures=self._policy.failures,
                open_seconds=self._policy.open_seconds,
            )
        else:
            _log.info("upstream_circuit_" + state.replace("-opened", "_open"), upstream=self.name)

    @contextmanager
    def _errors_named(self) -> Iterator[None]:
        """Say which upstream failed a call when it could not be reached or refused it, and
        report whether it answered."""
        try:
            yield
        except UpstreamUnavailable:
            raise  # reported where it was found
        except ToolError:
            self._answered(self.name, True, None)  # the tool's own error
            raise
        except MCPError as error:
            if error.error.code == mcp_types.CONNECTION_CLOSED:
                self._unreachable(error)
            self._answered(self.name, True, None)
            if error.error.code == mcp_types.INTERNAL_ERROR:
                # What the SDK's client makes of an HTTP error status, 401 and 403 included:
                # FastMCP would say only "Error calling tool", without the upstream's name.
                raise ToolError(
                    f"upstream '{self.name}' refused the call: {error.error.message}"
                    " (401/403: the caller's Authorization, passed on unchanged, does not"
                    " admit it)",
                    log_level=logging.INFO,
                ) from None
            raise  # the upstream's own protocol error, as FastMCP's proxy relays it
        except Exception as error:  # connect failures surface as RuntimeError or httpx errors
            self._unreachable(error)
        self._answered(self.name, True, None)

    def _unreachable(self, error: BaseException) -> NoReturn:
        reason = describe(error)
        self._answered(self.name, False, reason)
        raise UpstreamUnavailable(self.name, reason) from None


def not_connected(error: BaseException) -> bool:
    """Whether the call failed before its request left: no connection could be made."""
    return connect_error(error) is not None


def connect_error(error: BaseException) -> BaseException | None:
    """The failure to connect behind `error`, wrapped or not (by FastMCP's client, by the
    SDK's transport), or None."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, httpx2.ConnectError | aiohttp.ClientConnectorError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def describe(error: BaseException) -> str:
    # FastMCP wraps connect failures ("Client failed to connect: ..."); the innermost
    # cause is what an operator can act on (connection refused, 401, timeout).
    while error.__cause__ is not None and not str(error):
        error = error.__cause__
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
