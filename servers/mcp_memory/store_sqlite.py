"""Memory storage in an embedded SQLite file, for a single replica without DATABASE_URL."""

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import numpy as np
import structlog

from mcp_memory.errors import ModelMismatch, StoreUnavailable
from mcp_memory.models import RecalledMemory, StoredMemory
from mcp_memory.store import (
    Backend,
    Candidates,
    ChangeMark,
    Changes,
    StoreInfo,
    decode_vectors,
    encode_vector,
)

log = structlog.get_logger(__name__)

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS memory_items (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    text       TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    metadata   TEXT NOT NULL DEFAULT '{}',
    embedding  BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_forgotten (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_model (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    model    TEXT NOT NULL
);
"""

# Columns added after the first release: a database made before them gets them here.
# item_seq is the forgotten memory's key in the indexes; forgotten_at (unix seconds)
# dates a tombstone for pruning; store_id names the database for index snapshots.
ADDED_COLUMNS = {
    "memory_forgotten": {"item_seq": "INTEGER", "forgotten_at": "REAL NOT NULL DEFAULT 0"},
    "memory_model": {"store_id": "TEXT", "pruned_through": "INTEGER NOT NULL DEFAULT 0"},
}


class SqliteMemoryStore:
    backend: Backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db: aiosqlite.Connection | None = None
        # One connection: SQLite serialises writers anyway, and a single writer keeps
        # sequence numbers committing in order.
        self._write_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._model_id: str | None = None

    async def open(self, model_id: str) -> None:
        self._model_id = model_id
        await self._conn()

    async def _open(self) -> aiosqlite.Connection:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(self._path)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(exc) from exc
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.executescript(SCHEMA_SQL)
            for table, columns in ADDED_COLUMNS.items():
                async with db.execute(f"PRAGMA table_info({table})") as cursor:
                    present = {row[1] for row in await cursor.fetchall()}
                for column, kind in columns.items():
                    if column not in present:
                        await db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            await db.execute(
                "INSERT OR IGNORE INTO memory_model (only_row, model) VALUES (1, ?)",
                (self._model_id,),
            )
            await db.execute(
                "UPDATE memory_model SET store_id = ? WHERE store_id IS NULL", (uuid.uuid4().hex,)
            )
            await db.commit()
            async with db.execute("SELECT model FROM memory_model") as cursor:
                (stored,) = await cursor.fetchone()  # type: ignore[misc]
        except (OSError, sqlite3.Error) as exc:
            await db.close()
            raise StoreUnavailable(exc) from exc
        if stored != self._model_id:
            await db.close()
            raise ModelMismatch(stored, str(self._model_id))
        log.info("memory_schema_ready", backend=self.backend, path=str(self._path))
        return db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def ping(self) -> None:
        db = await self._conn()
        async with db.execute("SELECT 1") as cursor:
            await cursor.fetchone()

    async def info(self) -> StoreInfo:
        db = await self._conn()
        async with self._write_lock:
            async with db.execute("SELECT store_id, pruned_through FROM memory_model") as cursor:
                store_id, pruned = await cursor.fetchone()  # type: ignore[misc]
            async with db.execute("SELECT coalesce(max(seq), 0) FROM memory_items") as cursor:
                (last,) = await cursor.fetchone()  # type: ignore[misc]
        return StoreInfo(store_id=store_id, last_added=last, pruned_through=pruned)

    async def insert(
        self, memories: list[StoredMemory], vectors: np.ndarray, *, skip_existing: bool = False
    ) -> None:
        rows = [
            (
                m.id,
                m.text,
                json.dumps(list(m.tags)),
                json.dumps(m.metadata),
                encode_vector(v),
                m.created_at.isoformat(),
            )
            for m, v in zip(memories, vectors, strict=True)
        ]
        db = await self._conn()
        verb = "INSERT OR IGNORE" if skip_existing else "INSERT"

        async def insert_rows() -> None:
            await db.executemany(
                f"{verb} INTO memory_items (id, text, tags, metadata, embedding, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

        await self._transaction(db, insert_rows)

    async def forget_ids(self, ids: list[str]) -> list[str]:
        marks = ",".join("?" * len(ids))
        return await self._forget(f"id IN ({marks})", ids)

    async def forget_tag(self, tag: str) -> list[str]:
        return await self._forget(
            "EXISTS (SELECT 1 FROM json_each(memory_items.tags) WHERE value = ?)", [tag]
        )

    async def _forget(self, condition: str, arguments: list[str]) -> list[str]:
        db = await self._conn()
        gone: list[tuple[str, int]] = []

        async def delete_rows() -> None:
            async with db.execute(
                f"DELETE FROM memory_items WHERE {condition} RETURNING id, seq", arguments
            ) as cursor:
                gone.extend((row[0], row[1]) for row in await cursor.fetchall())
            now = time.time()
            await db.executemany(
                "INSERT INTO memory_forgotten (id, item_seq, forgotten_at) VALUES (?, ?, ?)",
                [(i, seq, now) for i, seq in gone],
            )

        await self._transaction(db, delete_rows)
        return [i for i, _ in gone]

    async def prune_tombstones(self, older_than_seconds: float) -> int:
        db = await self._conn()
        pruned = 0

        async def delete_old() -> None:
            nonlocal pruned
            async with db.execute(
                "DELETE FROM memory_forgotten WHERE forgotten_at < ? RETURNING seq",
                (time.time() - older_than_seconds,),
            ) as cursor:
                seqs = [row[0] for row in await cursor.fetchall()]
            if seqs:
                pruned = len(seqs)
                await db.execute(
                    "UPDATE memory_model SET pruned_through = max(pruned_through, ?)", (max(seqs),)
                )

        await self._transaction(db, delete_old)
        return pruned

    async def fetch(self, keys: list[int]) -> Candidates:
        rows: list[Any] = []
        if keys:
            db = await self._conn()
            marks = ",".join("?" * len(keys))
            async with self._write_lock:
                # One trip to the connection's thread (a cursor would take three).
                rows = list(
                    await db.execute_fetchall(
                        "SELECT seq, id, text, tags, metadata, embedding, created_at "
                        f"FROM memory_items WHERE seq IN ({marks})",
                        keys,
                    )
                )
        return Candidates(
            keys=[r[0] for r in rows],
            vectors=decode_vectors([r[5] for r in rows]),
            rows=rows,
            to_recalled=_recalled,
        )

    async def _transaction(
        self, db: aiosqlite.Connection, write: Callable[[], Awaitable[None]]
    ) -> None:
        """Run `write` and commit, or roll all of it back.

        Without the rollback, rows a failed write had already inserted would stay in
        the connection's open transaction and go out with the next writer's commit.
        Shielded, so a cancelled caller cannot leave the transaction open either.
        """

        async def commit_or_roll_back() -> None:
            async with self._write_lock:
                try:
                    await write()
                    await db.commit()
                except BaseException:
                    await db.rollback()
                    raise

        await asyncio.shield(commit_or_roll_back())

    async def changes_since(self, mark: ChangeMark, limit: int | None = None) -> Changes:
        db = await self._conn()
        # Writes share this connection: outside the lock a read would see a write's
        # rows before it commits, and keep them if it then rolls back.
        async with self._write_lock:
            async with db.execute(
                "SELECT seq, tags, embedding FROM memory_items WHERE seq > ? ORDER BY seq LIMIT ?",
                (mark.added, -1 if limit is None else limit),
            ) as cursor:
                rows = list(await cursor.fetchall())
            async with db.execute(
                "SELECT seq, item_seq FROM memory_forgotten WHERE seq > ? ORDER BY seq",
                (mark.removed,),
            ) as cursor:
                tombstones = list(await cursor.fetchall())
            async with db.execute("SELECT pruned_through FROM memory_model") as cursor:
                (pruned,) = await cursor.fetchone()  # type: ignore[misc]
        return Changes(
            keys=np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows)),
            tags=[_tags(r[1]) for r in rows],
            vectors=decode_vectors([r[2] for r in rows]),
            removed=[t[1] for t in tombstones if t[1] is not None],
            mark=ChangeMark(
                added=rows[-1][0] if rows else mark.added,
                removed=tombstones[-1][0] if tombstones else mark.removed,
            ),
            pruned_through=pruned,
            complete=limit is None or len(rows) < limit,
        )

    async def _conn(self) -> aiosqlite.Connection:
        """The connection, opened (and the schema made) on first use."""
        async with self._open_lock:
            if self._db is None:
                self._db = await self._open()
            return self._db


def _tags(stored: str) -> tuple[str, ...]:
    # Most memories carry no tags: skip the JSON parser for them.
    return () if stored == "[]" else tuple(json.loads(stored))


def _recalled(row: Any, score: float) -> RecalledMemory:
    """A `fetch` row (seq, id, text, tags, metadata, embedding, created_at) as recalled."""
    return RecalledMemory(
        id=row[1],
        text=row[2],
        tags=_tags(row[3]),
        metadata=json.loads(row[4]),
        created_at=row[6],
        score=score,
    )
