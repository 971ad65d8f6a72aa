"""The SQLite store's two connections to its file, opened on first use and after a failure."""

import asyncio
import sqlite3
import time
from pathlib import Path

import aiosqlite
import structlog

from mcp_todo.errors import StoreFull, StoreUnavailable
from mcp_todo.sqlite_faults import storage_fault

log = structlog.get_logger(__name__)

# After a failed attempt to open, callers get its error until this much time has passed.
RETRY_SECONDS = 1.0

Connections = tuple[aiosqlite.Connection, sqlite3.Connection]


class SqliteConnections:
    """A writer (aiosqlite, which runs a thread per connection) and a reader used on the
    event loop, both on `path`, with `schema` applied once.

    A data dir that cannot be opened costs one attempt per RETRY_SECONDS however often
    /ready and callers ask, and a failed attempt closes what it opened, thread included:
    each /ready used to leave one thread behind, and those kept the process from exiting.
    """

    def __init__(self, path: Path, schema: str, *, busy_timeout_ms: int) -> None:
        self._path = path
        self._schema = schema
        self._busy_timeout_ms = busy_timeout_ms
        self._open: Connections | None = None
        self._opening: asyncio.Task[None] | None = None
        self._failure: sqlite3.Error | OSError | None = None
        self._retry_at = 0.0
        self._closed = False

    async def get(self) -> Connections:
        """The open connections; raises StoreUnavailable or StoreFull when they cannot be."""
        if self._open is not None:
            return self._open
        if self._closed:
            raise StoreUnavailable(RuntimeError("the task store is closed"))
        if self._opening is None:
            if self._failure is not None and time.monotonic() < self._retry_at:
                raise _fault(self._failure) from self._failure
            self._opening = asyncio.create_task(self._attempt())
        # Shielded: a caller that gives up (a probe at its timeout) must not cut the attempt
        # short and leave a half-open connection, and its thread, behind.
        await asyncio.shield(self._opening)
        if self._open is None:
            assert self._failure is not None  # set by the attempt that just failed
            raise _fault(self._failure) from self._failure
        return self._open

    async def close(self) -> None:
        self._closed = True
        if self._opening is not None:
            await self._opening
        if self._open is not None:
            db, reader = self._open
            self._open = None
            reader.close()
            await db.close()

    async def _attempt(self) -> None:
        try:
            self._open = await _connect(self._path, self._schema, self._busy_timeout_ms)
        except (OSError, sqlite3.Error) as exc:
            self._failure = exc
            self._retry_at = time.monotonic() + RETRY_SECONDS
            log.warning("todo_store_open_failed", path=str(self._path), error=_describe(exc))
        else:
            self._failure = None
            log.info("todo_schema_ready", backend="sqlite", path=str(self._path))
        finally:
            self._opening = None


async def _connect(path: Path, schema: str, busy_timeout_ms: int) -> Connections:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit: every statement is its own transaction, so one shared connection never
    # holds a write lock between calls. A failed connect stops aiosqlite's thread itself.
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        db.row_factory = sqlite3.Row
        await db.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.executescript(schema)
        reader = _reader(path)
    except BaseException:
        # Only closing the connection ends its thread.
        await db.close()
        raise
    return db, reader


def _reader(path: Path) -> sqlite3.Connection:
    # A WAL reader waits only for another connection in exclusive locking mode, which
    # cannot get its lock while ours are open; should it happen anyway, fail the lookup
    # rather than block the event loop.
    reader = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        reader.row_factory = sqlite3.Row
        reader.execute("PRAGMA query_only = ON")
    except BaseException:
        reader.close()
        raise
    return reader


def _fault(cause: sqlite3.Error | OSError) -> StoreUnavailable | StoreFull:
    # A new error each time: re-raising one instance would grow its traceback on every raise.
    return storage_fault(cause) or StoreUnavailable(cause)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
