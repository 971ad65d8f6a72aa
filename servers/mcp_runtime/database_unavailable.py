"""The error a server raises while its database cannot be reached.

Apart from `mcp_runtime.postgres` so that raising or catching it does not import asyncpg:
a server on its embedded SQLite store never needs the PostgreSQL driver.
"""

from __future__ import annotations


class DatabaseUnavailable(Exception):
    """The database cannot be reached; callers should retry later."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"database unavailable, try again later ({type(cause).__name__}: {cause})")
        self.cause = cause
