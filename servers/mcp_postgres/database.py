"""The asyncpg pool of the postgres server, created lazily so it survives database outages."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Errors that mean "the database is not there right now", as opposed to a bad query.
CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.InvalidAuthorizationSpecificationError,
)


class DatabaseUnavailable(Exception):
    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"database unavailable, try again later ({type(cause).__name__}: {cause})")


class DatabaseBusy(Exception):
    def __init__(self, connections: int, waited_seconds: float) -> None:
        super().__init__(
            f"database busy: all {connections} pooled connections stayed in use for "
            f"{waited_seconds:g} s; try again shortly"
        )


async def _decode_json(conn: asyncpg.Connection) -> None:
    # json and jsonb come back as nested values rather than as strings of JSON.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class Database:
    def __init__(self, dsn: str, *, max_connections: int = 10, connect_timeout: float = 5.0):
        self._dsn = dsn
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        async with self.connection() as conn:
            is_superuser = await conn.fetchval(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )
        if is_superuser:
            # A read-only transaction does not stop a superuser's file or process functions.
            log.warning("postgres_role_is_superuser", advice="connect with a pg_read_all_data role")

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        pool = self._pool
        if (
            pool is not None
            and pool.get_size() >= self._max_connections
            and pool.get_idle_size() == 0
        ):
            # Every connection is busy running a query: the database is answering, and
            # queueing for a connection here would mark a merely busy replica unready.
            return
        async with self.connection() as conn:
            await conn.fetchval("SELECT 1")

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; connection failures surface as DatabaseUnavailable."""
        try:
            pool = await self._ready_pool()
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(exc) from exc
        try:
            async with pool.acquire(timeout=self._connect_timeout) as conn:
                yield conn
        except TimeoutError as exc:
            if pool.get_size() >= self._max_connections and pool.get_idle_size() == 0:
                raise DatabaseBusy(self._max_connections, self._connect_timeout) from exc
            raise DatabaseUnavailable(exc) from exc
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(exc) from exc

    async def _ready_pool(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                # min_size=0 lets the server start while the database is still down.
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=0,
                    max_size=self._max_connections,
                    timeout=self._connect_timeout,
                    init=_decode_json,
                )
            return self._pool
