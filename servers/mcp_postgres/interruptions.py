"""Tell a query that another session or an administrator ended from one that failed on its own.

asyncpg reports a backend ended by pg_terminate_backend (or a shutdown) as a lost connection,
and pg_cancel_backend as the same QueryCanceledError as our statement timeout: told apart
here, so the caller hears what happened rather than "database unavailable" or "timeout".
"""

import asyncpg

CANCELLED = (
    "your query was cancelled by another session or an administrator (SQLSTATE 57014); run it again"
)
TERMINATED = (
    "your query was terminated by another session or an administrator (SQLSTATE 57P01); "
    "run it again"
)


def cancelled_by_our_timeout(
    exc: asyncpg.QueryCanceledError, elapsed_seconds: float, timeout_seconds: float
) -> bool:
    """Whether our statement timeout, not another session, cancelled the query."""
    # Both are SQLSTATE 57014. Our timeout cannot fire before it has passed; the English text
    # tells the two apart too, where lc_messages leaves it untranslated.
    return elapsed_seconds >= timeout_seconds and "user request" not in str(exc)


def terminated_by_another_session(exc: BaseException) -> bool:
    """Whether the server ended the backend on request (SQLSTATE 57P01), found in the chain
    of causes: asyncpg raises the lost connection (08003) with the 57P01 as its cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, asyncpg.AdminShutdownError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
