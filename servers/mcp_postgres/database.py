"""The asyncpg pool of the postgres server, created lazily so it survives database outages."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog
from mcp_runtime.postgres import DatabaseUnavailable, LazyPool

from mcp_postgres.role_guard import privileged_standing, refuse_privileged_role

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
        allow_privileged_role: bool = False,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float | None = None,
    ):
        self._allow_privileged_role = allow_privileged_role
        self._pool = LazyPool(
            dsn,
            max_size=max_connections,
            timeout=connect_timeout,
            command_timeout=command_timeout,
            init=self._prepare_connection,
        )

    async def _prepare_connection(self, conn: asyncpg.Connection) -> None:
        # Raising here closes the new connection: every tool call and /ready report
        # PrivilegedRole until the role loses those powers, with no restart needed.
        if not self._allow_privileged_role:
            await refuse_privileged_role(conn)
        await _decode_json(conn)

    async def open(self) -> None:
        """Connect now; raises DatabaseUnavailable, or PrivilegedRole unless allowed."""
        async with self.connection() as conn:
            # Without the override, _prepare_connection has refused a privileged role already.
            standing = await privileged_standing(conn) if self._allow_privileged_role else None
        if standing is not None:
            log.warning("postgres_role_privileged_allowed", role_is=standing)

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        await self._pool.ping()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection; raises DatabaseUnavailable, PrivilegedRole or, when all are
        busy, DatabaseBusy."""
        try:
            async with self._pool.connection() as conn:
                yield conn
        except DatabaseUnavailable as exc:
            if isinstance(exc.cause, TimeoutError) and self._pool.saturated:
                raise DatabaseBusy(self._pool.max_size, self._pool.timeout) from exc
            raise
