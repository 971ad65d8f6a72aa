"""The asyncpg pool of the postgres server, created lazily so it survives database outages."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import structlog
from mcp_runtime.postgres import DatabaseUnavailable, LazyPool

from mcp_postgres.json_values import JsonText
from mcp_postgres.role_guard import RolePolicy, allowed_powers, refuse_unsafe_role
from mcp_postgres.row_budget import RowBudget

log = structlog.get_logger(__name__)


class DatabaseBusy(Exception):
    def __init__(self, connections: int, waited_seconds: float) -> None:
        super().__init__(
            f"database busy: all {connections} pooled connections stayed in use for "
            f"{waited_seconds:g} s; try again shortly"
        )


async def _decode_json(conn: asyncpg.Connection) -> None:
    # json and jsonb come back as nested values rather than as strings of JSON, parsed by
    # to_json once the values they hold are counted, not by asyncpg as they arrive.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=JsonText, schema="pg_catalog"
        )


class Database:
    def __init__(
        self,
        dsn: str,
        *,
        role_policy: RolePolicy | None = None,
        max_connections: int = 10,
        connect_timeout: float = 5.0,
        command_timeout: float | None = None,
    ):
        self._role_policy = role_policy or RolePolicy()
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
        await refuse_unsafe_role(conn, self._role_policy)
        await _decode_json(conn)
        # Idle here, between two messages: where the filter must start reading the stream.
        RowBudget.on(conn)

    async def open(self) -> None:
        """Connect now; raises DatabaseUnavailable, or PrivilegedRole unless allowed."""
        async with self.connection() as conn:
            powers = await refuse_unsafe_role(conn, self._role_policy)
        for event, detail in allowed_powers(powers, self._role_policy).items():
            log.warning(event, role=detail)

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
