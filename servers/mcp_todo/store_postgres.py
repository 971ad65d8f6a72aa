"""Task storage in PostgreSQL through an asyncpg pool that reconnects by itself."""

import asyncpg
import structlog
from mcp_runtime.postgres import LazyPool

from mcp_todo.errors import StoreUnavailable
from mcp_todo.models import Task
from mcp_todo.store import TaskChanges

log = structlog.get_logger(__name__)

# Two replicas starting together must not race on CREATE TABLE, so DDL runs under this lock.
SCHEMA_LOCK_KEY = 0x70D0_7A5C

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS todo_tasks (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title        TEXT NOT NULL CHECK (length(btrim(title)) > 0),
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS todo_tasks_status_id ON todo_tasks (status, id);
"""

COLUMNS = "id, title, description, status, created_at, updated_at, completed_at"


class PostgresTaskStore:
    def __init__(self, dsn: str, *, max_connections: int = 10, timeout_seconds: float = 5.0):
        self._pool = LazyPool(
            dsn,
            max_size=max_connections,
            timeout=timeout_seconds,
            command_timeout=timeout_seconds * 2,
            setup=_create_schema,
            unavailable=StoreUnavailable,
            # A standby (after a failover, or before its promotion) refuses every write:
            # unavailable, as an SQLite file that cannot be written is, not a bare 500 or,
            # at start, an exit.
            writes=True,
        )

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        await self._pool.ping()

    async def check_writable(self) -> None:
        """Raise StoreUnavailable while the database is a standby, which refuses every
        write. PostgreSQL manages its own storage: a write it cannot make for want of it
        fails as that statement's error."""
        if self._pool.saturated:
            # Every connection is busy writing or reading: waiting for one would mark a
            # merely busy replica unready, as ping() says.
            return
        async with self._pool.connection() as conn:
            read_only = await conn.fetchval("SELECT current_setting('transaction_read_only')")
        if read_only == "on":
            raise StoreUnavailable(
                asyncpg.ReadOnlySQLTransactionError(
                    "the database refuses writes (transaction_read_only is on)"
                )
            )

    async def create(self, title: str, description: str, status: str) -> Task:
        async with self._pool.connection() as conn:
            row = await conn.fetchrow(
                f"INSERT INTO todo_tasks (title, description, status, completed_at) "
                f"VALUES ($1, $2, $3, CASE WHEN $3 = 'done' THEN now() END) RETURNING {COLUMNS}",
                title,
                description,
                status,
            )
        return Task.model_validate(dict(row))

    async def get(self, task_id: int) -> Task | None:
        async with self._pool.connection() as conn:
            row = await conn.fetchrow(f"SELECT {COLUMNS} FROM todo_tasks WHERE id = $1", task_id)
        return None if row is None else Task.model_validate(dict(row))

    async def list(self, status: str | None, limit: int, offset: int) -> tuple[list[Task], int]:
        async with self._pool.connection() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} FROM todo_tasks WHERE ($1::text IS NULL OR status = $1) "
                "ORDER BY id LIMIT $2 OFFSET $3",
                status,
                limit,
                offset,
            )
            total = await conn.fetchval(
                "SELECT count(*) FROM todo_tasks WHERE ($1::text IS NULL OR status = $1)", status
            )
        return [Task.model_validate(dict(r)) for r in rows], total

    async def update(self, task_id: int, changes: TaskChanges) -> Task | None:
        async with self._pool.connection() as conn:
            row = await conn.fetchrow(
                "UPDATE todo_tasks SET "
                "title = COALESCE($2, title), "
                "description = COALESCE($3, description), "
                "status = COALESCE($4, status), "
                "completed_at = CASE WHEN COALESCE($4, status) = 'done' "
                "THEN COALESCE(completed_at, now()) END, "
                f"updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
                task_id,
                changes.title,
                changes.description,
                changes.status,
            )
        return None if row is None else Task.model_validate(dict(row))

    async def delete(self, task_id: int) -> bool:
        async with self._pool.connection() as conn:
            deleted = await conn.fetchval(
                "DELETE FROM todo_tasks WHERE id = $1 RETURNING id", task_id
            )
        return deleted is not None


async def _create_schema(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        await conn.execute(SCHEMA_SQL)
    log.info("todo_schema_ready", backend="postgresql")
