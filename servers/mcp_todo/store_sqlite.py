"""Task storage in an embedded SQLite file, so the server runs with no database service."""

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import structlog

from mcp_todo.errors import StoreUnavailable
from mcp_todo.models import Task
from mcp_todo.store import TaskChanges

log = structlog.get_logger(__name__)

NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS todo_tasks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL CHECK (length(trim(title)) > 0),
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done')),
    created_at   TEXT NOT NULL DEFAULT ({NOW}),
    updated_at   TEXT NOT NULL DEFAULT ({NOW}),
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS todo_tasks_status_id ON todo_tasks (status, id);
"""

COLUMNS = "id, title, description, status, created_at, updated_at, completed_at"


def _task(row: sqlite3.Row) -> Task:
    return Task.model_validate(dict(row))


class SqliteTaskStore:
    """Writes and scans go through aiosqlite's thread; lookups by id run on the event loop.

    A lookup by primary key on a WAL database reads a few cached pages and never waits
    for a writer, so it takes microseconds; the hand-off to aiosqlite's thread and back
    cost more than that, and under load the thread's wait for the GIL set the tail
    latency of get_task.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000):
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._open_lock = asyncio.Lock()

    async def open(self) -> None:
        await self._connection()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        db = await self._connection()
        try:
            await db.execute_fetchall("SELECT 1 FROM todo_tasks LIMIT 1")
        except sqlite3.Error as exc:
            raise StoreUnavailable(exc) from exc

    async def create(self, title: str, description: str, status: str) -> Task:
        row = await self._fetchone(
            f"INSERT INTO todo_tasks (title, description, status, completed_at) "
            f"VALUES (?1, ?2, ?3, CASE WHEN ?3 = 'done' THEN {NOW} END) RETURNING {COLUMNS}",
            (title, description, status),
        )
        assert row is not None  # INSERT ... RETURNING always yields the new row
        return _task(row)

    async def get(self, task_id: int) -> Task | None:
        await self._connection()
        assert self._reader is not None  # opened together with the writer
        row = self._reader.execute(
            f"SELECT {COLUMNS} FROM todo_tasks WHERE id = ?", (task_id,)
        ).fetchone()
        return None if row is None else _task(row)

    async def list(self, status: str | None, limit: int, offset: int) -> tuple[list[Task], int]:
        db = await self._connection()
        where = "WHERE (?1 IS NULL OR status = ?1)"
        rows = await db.execute_fetchall(
            f"SELECT {COLUMNS} FROM todo_tasks {where} ORDER BY id LIMIT ?2 OFFSET ?3",
            (status, limit, offset),
        )
        ((total,),) = await db.execute_fetchall(
            f"SELECT count(*) FROM todo_tasks {where}", (status,)
        )
        return [_task(r) for r in rows], total

    async def update(self, task_id: int, changes: TaskChanges) -> Task | None:
        row = await self._fetchone(
            "UPDATE todo_tasks SET "
            "title = COALESCE(?2, title), "
            "description = COALESCE(?3, description), "
            "status = COALESCE(?4, status), "
            f"completed_at = CASE WHEN COALESCE(?4, status) = 'done' "
            f"THEN COALESCE(completed_at, {NOW}) END, "
            f"updated_at = {NOW} WHERE id = ?1 RETURNING {COLUMNS}",
            (task_id, changes.title, changes.description, changes.status),
        )
        return None if row is None else _task(row)

    async def delete(self, task_id: int) -> bool:
        row = await self._fetchone("DELETE FROM todo_tasks WHERE id = ? RETURNING id", (task_id,))
        return row is not None

    async def _fetchone(self, sql: str, params: tuple[object, ...]) -> sqlite3.Row | None:
        db = await self._connection()
        # One round trip to aiosqlite's thread instead of three (execute, fetch, close).
        rows = await db.execute_fetchall(sql, params)
        return next(iter(rows), None)

    async def _connection(self) -> aiosqlite.Connection:
        if self._db is not None:
            return self._db
        async with self._open_lock:
            if self._db is None:
                try:
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                    # Autocommit: every statement is its own transaction, so one shared
                    # connection never holds a write lock between calls.
                    db = await aiosqlite.connect(self._path, isolation_level=None)
                    db.row_factory = sqlite3.Row
                    await db.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
                    await db.execute("PRAGMA journal_mode = WAL")
                    await db.executescript(SCHEMA_SQL)
                    # A WAL reader waits only for another connection in exclusive locking
                    # mode, which cannot get its lock while ours are open; should it
                    # happen anyway, fail the lookup rather than block the event loop.
                    reader = sqlite3.connect(self._path, isolation_level=None, timeout=0)
                    reader.row_factory = sqlite3.Row
                    reader.execute("PRAGMA query_only = ON")
                except (OSError, sqlite3.Error) as exc:
                    raise StoreUnavailable(exc) from exc
                self._db, self._reader = db, reader
                log.info("todo_schema_ready", backend="sqlite", path=str(self._path))
        return self._db
