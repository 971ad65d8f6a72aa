"""Task storage in an embedded SQLite file, so the server runs with no database service."""

import contextlib
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import aiosqlite

from mcp_todo.models import Task
from mcp_todo.sqlite_connections import SqliteConnections
from mcp_todo.sqlite_faults import storage_fault
from mcp_todo.store import TaskChanges

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

# Below this much free space the write check commits a write, even though the last one went
# through; a few pages, so that the checks themselves cannot take what little is left.
LOW_SPACE_BYTES = 16 * 1024


def _task(row: sqlite3.Row) -> Task:
    return Task.model_validate(dict(row))


class SqliteTaskStore:
    """Writes and scans go through aiosqlite's thread; lookups by id run on the event loop.

    A lookup by primary key on a WAL database reads a few cached pages and never waits
    for a writer, so it takes microseconds; the hand-off to aiosqlite's thread and back
    cost more than that, and under load the thread's wait for the GIL set the tail
    latency of get_task.

    Storage failures are StoreFull (a full disk) or StoreUnavailable (anything else), never
    a driver error.
    """

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000):
        self._path = path
        self._connections = SqliteConnections(path, SCHEMA_SQL, busy_timeout_ms=busy_timeout_ms)
        # Until a write has gone through (at start, and after one failed for want of
        # storage) the write check commits one. A rolled-back write, BEGIN IMMEDIATE and
        # ROLLBACK, puts nothing on disk, so it cannot see a full disk; nor, in WAL mode,
        # a file SQLite could only open read-only.
        self._writes_work = False

    async def open(self) -> None:
        await self._connections.get()

    async def close(self) -> None:
        await self._connections.close()

    async def ping(self) -> None:
        await self._fetchall("SELECT 1 FROM todo_tasks LIMIT 1", ())

    async def check_writable(self) -> None:
        if self._writes_work and not _low_on_space(self._path.parent):
            return
        # Rewrites user_version (unused otherwise) with its own value: a committed write.
        ((version,),) = await self._fetchall("PRAGMA user_version", ())
        await self._write(f"PRAGMA user_version = {int(version)}", ())

    async def create(self, title: str, description: str, status: str) -> Task:
        row = await self._write(
            f"INSERT INTO todo_tasks (title, description, status, completed_at) "
            f"VALUES (?1, ?2, ?3, CASE WHEN ?3 = 'done' THEN {NOW} END) RETURNING {COLUMNS}",
            (title, description, status),
        )
        assert row is not None  # INSERT ... RETURNING always yields the new row
        return _task(row)

    async def get(self, task_id: int) -> Task | None:
        _, reader = await self._connections.get()
        try:
            row = reader.execute(
                f"SELECT {COLUMNS} FROM todo_tasks WHERE id = ?", (task_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            if (fault := storage_fault(exc)) is None:
                raise
            raise fault from exc
        return None if row is None else _task(row)

    async def list(self, status: str | None, limit: int, offset: int) -> tuple[list[Task], int]:
        where = "WHERE (?1 IS NULL OR status = ?1)"
        rows = await self._fetchall(
            f"SELECT {COLUMNS} FROM todo_tasks {where} ORDER BY id LIMIT ?2 OFFSET ?3",
            (status, limit, offset),
        )
        ((total,),) = await self._fetchall(f"SELECT count(*) FROM todo_tasks {where}", (status,))
        return [_task(r) for r in rows], total

    async def update(self, task_id: int, changes: TaskChanges) -> Task | None:
        row = await self._write(
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
        row = await self._write("DELETE FROM todo_tasks WHERE id = ? RETURNING id", (task_id,))
        return row is not None

    async def _fetchall(self, sql: str, params: tuple[object, ...]) -> Iterable[sqlite3.Row]:
        db, _ = await self._connections.get()
        try:
            return await db.execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            if (fault := storage_fault(exc)) is None:
                raise
            raise fault from exc

    async def _write(self, sql: str, params: tuple[object, ...]) -> sqlite3.Row | None:
        db, _ = await self._connections.get()
        try:
            # One round trip to aiosqlite's thread instead of three (execute, fetch, close).
            rows = await db.execute_fetchall(sql, params)
        except sqlite3.Error as exc:
            if (fault := storage_fault(exc)) is None:
                raise
            self._writes_work = False
            await _end_transaction(db)
            raise fault from exc
        self._writes_work = True
        return next(iter(rows), None)


async def _end_transaction(db: aiosqlite.Connection) -> None:
    # After SQLITE_FULL or an I/O error SQLite may leave the statement's transaction open;
    # on the one shared connection it would take in every later write.
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            await db.rollback()


def _low_on_space(directory: Path) -> bool:
    try:
        return shutil.disk_usage(directory).free < LOW_SPACE_BYTES
    except OSError:
        return False  # the write check itself will tell
