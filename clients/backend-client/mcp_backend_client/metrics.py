"""Prometheus metrics of every server a process calls, labelled by server name."""

from __future__ import annotations

from prometheus_client import Counter, Enum

BREAKER_STATES = ["closed", "open", "half-open"]

BREAKER_STATE = Enum(
    "mcp_backend_client_breaker_state",
    "State of the circuit breaker in front of a server.",
    ["server"],
    states=BREAKER_STATES,
)
RETRIES = Counter(
    "mcp_backend_client_retries",
    "Attempts repeated after a failure (only calls that are safe to repeat).",
    ["server", "operation"],
)
FAILURES = Counter(
    "mcp_backend_client_failures",
    "Failed attempts, by reason: connection, timeout, server_error, breaker_open.",
    ["server", "operation", "reason"],
)
