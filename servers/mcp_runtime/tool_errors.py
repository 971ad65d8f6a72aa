"""Turn a server's own errors into ToolErrors, whose messages reach the client unmasked."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from fastmcp.exceptions import ToolError

ErrorTypes = type[Exception] | tuple[type[Exception], ...]


@contextmanager
def reported_to_caller(
    *, retry_later: ErrorTypes = (), rejected: ErrorTypes = ()
) -> Iterator[None]:
    """Re-raise `retry_later` and `rejected` errors as ToolErrors with the same message.

    `retry_later` errors (a dependency is down or busy) are logged at WARNING; `rejected`
    ones are the caller's mistake, not a server error, so they are logged at INFO.
    `retry_later` is checked first, so it may hold subclasses of `rejected`.
    """
    try:
        yield
    except retry_later as exc:
        raise ToolError(str(exc), log_level=logging.WARNING) from exc
    except rejected as exc:
        raise ToolError(str(exc), log_level=logging.INFO) from exc
