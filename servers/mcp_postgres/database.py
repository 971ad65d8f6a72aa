"""The asyncpg pool of the postgres server, created lazily so it survives database outages."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog
from mcp_runtime.postgres import DatabaseUnavailable, LazyPool

log = structlog.get_logger(__name__)


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
    def __init__(
        self,
        dsn: str,
        *,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float | None = None,
    ):
        self._pool = LazyPool(
            dsn,
            max_size=max_connections,
            timeout=connect_timeout,
            command_timeout=command_timeout,
            init=_decode_json,
        )

    async def open(self) -> None:
        async with self.connection() as conn:
            is_superuser = await conn.fetchval(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )
        if is_superuser:
            # A read-only transaction does not stop a superuser's file or process functions.
            log.warning("postgres_role_is_superuser", advice="connect with a pg_read_all_data role")

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        await self._pool.ping()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; raises DatabaseUnavailable or, when all are busy, DatabaseBusy."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except DatabaseUnavailable as exc:
            if isinstance(exc.cause, TimeoutError) and self._pool.saturated:
                raise DatabaseBusy(self._pool.max_size, self._pool.timeout) from exc
            raise
