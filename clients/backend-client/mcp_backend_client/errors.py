"""What a backend sees when a call fails: the server is unavailable, or it refused the call."""

from __future__ import annotations


class BackendUnavailable(Exception):
    """The server could not answer (down, slow, failing, or its breaker is open).

    A backend answers its own caller 503 with `Retry-After: retry_after` (whole seconds).
    """

    def __init__(self, server: str, operation: str, reason: str, retry_after: int) -> None:
        super().__init__(f"{server} is unavailable for {operation}: {reason}")
        self.server = server
        self.operation = operation
        self.reason = reason
        self.retry_after = retry_after


class ToolRejected(Exception):
    """The server answered, and the answer is an error: a bad argument, an unknown id.

    Not a sign of an unhealthy server, so it neither trips the breaker nor is retried.
    """

    def __init__(self, server: str, tool: str, message: str) -> None:
        super().__init__(f"{server} rejected {tool}: {message}")
        self.server = server
        self.tool = tool
        self.message = message
