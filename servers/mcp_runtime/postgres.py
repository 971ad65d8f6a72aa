"""A lazily created asyncpg pool that lets a server start, and keep serving, while its
database is down.

Needs asyncpg (the todo, postgres and memory extras); the runtime package itself does not
import this module, so the code runner image works without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import asyncpg

from mcp_runtime.database_unavailable import DatabaseUnavailable

__all__ = ["CONNECTION_ERRORS", "DatabaseUnavailable", "LazyPool"]

ConnectionHook = Callable[[asyncpg.Connection], Awaitable[None]]

# Errors that mean "the database is not there right now", as opposed to a bad query.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # "connection is closed" after the server went away mid-session.
    asyncpg.InterfaceError,
    asyncpg.InvalidAuthorizationSpecificationError,
)


class LazyPool:
    """An asyncpg pool created on first use, and again after a failed attempt.

    `setup` runs once on one connection after the pool exists (schema DDL) and is retried on
    the next use until it succeeds; `init` runs on every new connection (type codecs).
    Connection failures, while connecting or mid-query, raise `unavailable` (a
    DatabaseUnavailable subclass of the server's choosing) with the cause in the message; so
    does a write the database refuses as a standby when `writes` is set (a server that must
    write cannot serve from one until DATABASE_URL leads to a primary again).
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_size: int,
        timeout: float,
        command_timeout: float | None = None,
        setup: ConnectionHook | None = None,
        init: ConnectionHook | None = None,
        unavailable: type[DatabaseUnavailable] = DatabaseUnavailable,
        writes: bool = False,
    ) -> None:
        self._dsn = dsn
        self.max_size = max_size
        self.timeout = timeout
        self._command_timeout = command_timeout
        self._init = init
        self._unavailable = unavailable
        self._unavailable_errors = (
            (*CONNECTION_ERRORS, asyncpg.ReadOnlySQLTransactionError)
            if writes
            else CONNECTION_ERRORS
        )
        self._pool: asyncpg.Pool | None = None
        self._pending_setup = setup
        self._lock = asyncio.Lock()

    @property
    def saturated(self) -> bool:
        """Every connection the pool may open is open and busy."""
        pool = self._pool
        return pool is not None and pool.get_size() >= self.max_size and pool.get_idle_size() == 0

    async def open(self) -> None:
        """Connect and run `setup` now rather than on first use."""
        await self._ready_pool()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = await self._ready_pool()
        try:
            async with pool.acquire(timeout=self.timeout) as conn:
                yield conn
        except self._unavailable_errors as exc:
            raise self._unavailable(exc) from exc

    async def ping(self) -> None:
        """Raise `unavailable` unless the database answers; a saturated pool counts as up."""
        if self.saturated:
            # Every connection is busy running a query: the database is answering, and
            # queueing for a connection here would mark a merely busy replica unready.
            return
        async with self.connection() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _ready_pool(self) -> asyncpg.Pool:
        if self._pool is not None and self._pending_setup is None:
            return self._pool
        async with self._lock:
            try:
                if self._pool is None:
                    # min_size=0 lets the server start while the database is still down.
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,
                        max_size=self.max_size,
                        timeout=self.timeout,
                        command_timeout=self._command_timeout,
                        init=self._init,
                    )
                if self._pending_setup is not None:
                    async with self._pool.acquire(timeout=self.timeout) as conn:
                        await self._pending_setup(conn)
                    self._pending_setup = None
            except self._unavailable_errors as exc:
                raise self._unavailable(exc) from exc
        return self._pool
