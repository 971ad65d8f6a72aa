"""Memory storage in PostgreSQL through an asyncpg pool that reconnects by itself."""

import json
from typing import Any

import asyncpg
import numpy as np
import structlog
from mcp_runtime.postgres import LazyPool

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

# Replicas starting together must not race on CREATE TABLE.
SCHEMA_LOCK_KEY = 0x3E30_0001
# Held by every write until it commits, so sequence numbers become visible in order
# and a reader's high-water mark never skips a write that commits late.
WRITE_LOCK_KEY = 0x3E30_0002

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS memory_items (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id         TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    tags       TEXT[] NOT NULL DEFAULT '{}',
    metadata   JSONB NOT NULL DEFAULT '{}',
    embedding  BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS memory_items_tags ON memory_items USING GIN (tags);
CREATE TABLE IF NOT EXISTS memory_forgotten (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_model (
    only_row BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    model    TEXT NOT NULL
);
-- Added after the first release. item_seq is the forgotten memory's key in the indexes,
-- forgotten_at dates a tombstone for pruning, store_id names the database for snapshots.
ALTER TABLE memory_forgotten ADD COLUMN IF NOT EXISTS item_seq BIGINT;
ALTER TABLE memory_forgotten
    ADD COLUMN IF NOT EXISTS forgotten_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE memory_model ADD COLUMN IF NOT EXISTS store_id TEXT;
ALTER TABLE memory_model ADD COLUMN IF NOT EXISTS pruned_through BIGINT NOT NULL DEFAULT 0;
"""


class PostgresMemoryStore:
    backend: Backend = "postgresql"

    def __init__(self, dsn: str, *, max_connections: int = 10, timeout_seconds: float = 5.0):
        self._pool = LazyPool(
            dsn,
            max_size=max_connections,
            timeout=timeout_seconds,
            command_timeout=timeout_seconds * 2,
            setup=self._create_schema,
            unavailable=StoreUnavailable,
        )
        self._model_id: str | None = None

    async def open(self, model_id: str) -> None:
        self._model_id = model_id
        await self._pool.open()

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> None:
        await self._pool.ping()

    async def info(self) -> StoreInfo:
        async with self._pool.connection() as conn:
            row = await conn.fetchrow(
                "SELECT store_id, pruned_through, "
                "(SELECT coalesce(max(seq), 0) FROM memory_items) AS last FROM memory_model"
            )
        assert row is not None
        return StoreInfo(
            store_id=row["store_id"], last_added=row["last"], pruned_through=row["pruned_through"]
        )

    async def insert(
        self, memories: list[StoredMemory], vectors: np.ndarray, *, skip_existing: bool = False
    ) -> None:
        conflict = " ON CONFLICT (id) DO NOTHING" if skip_existing else ""
        rows = [
            (m.id, m.text, list(m.tags), json.dumps(m.metadata), encode_vector(v), m.created_at)
            for m, v in zip(memories, vectors, strict=True)
        ]
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
            await conn.executemany(
                "INSERT INTO memory_items (id, text, tags, metadata, embedding, created_at) "
                f"VALUES ($1, $2, $3, $4::jsonb, $5, $6){conflict}",
                rows,
            )

    async def forget_ids(self, ids: list[str]) -> list[str]:
        return await self._forget("id = ANY($1::text[])", ids)

    async def forget_tag(self, tag: str) -> list[str]:
        return await self._forget("$1::text = ANY(tags)", tag)

    async def _forget(self, condition: str, argument: object) -> list[str]:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
            gone = await conn.fetch(
                f"DELETE FROM memory_items WHERE {condition} RETURNING id, seq", argument
            )
            if gone:
                await conn.execute(
                    "INSERT INTO memory_forgotten (id, item_seq) "
                    "SELECT * FROM unnest($1::text[], $2::bigint[])",
                    [r["id"] for r in gone],
                    [r["seq"] for r in gone],
                )
        return [r["id"] for r in gone]

    async def prune_tombstones(self, older_than_seconds: float) -> int:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
            pruned = await conn.fetchrow(
                "WITH gone AS (DELETE FROM memory_forgotten "
                "WHERE forgotten_at < now() - make_interval(secs => $1) RETURNING seq) "
                "SELECT count(*) AS n, max(seq) AS through FROM gone",
                older_than_seconds,
            )
            assert pruned is not None
            if pruned["n"]:
                await conn.execute(
                    "UPDATE memory_model SET pruned_through = greatest(pruned_through, $1)",
                    pruned["through"],
                )
        return int(pruned["n"])

    async def fetch(self, keys: list[int]) -> Candidates:
        rows: list[Any] = []
        if keys:
            async with self._pool.connection() as conn:
                rows = await conn.fetch(
                    "SELECT seq, id, text, tags, metadata::text AS metadata, embedding, "
                    "created_at FROM memory_items WHERE seq = ANY($1::bigint[])",
                    keys,
                )
        return Candidates(
            keys=[r["seq"] for r in rows],
            vectors=decode_vectors([r["embedding"] for r in rows]),
            rows=rows,
            to_recalled=_recalled,
        )

    async def changes_since(self, mark: ChangeMark, limit: int | None = None) -> Changes:
        # New rows first, then tombstones: a memory added and forgotten in between
        # is either missed by both reads or removed by the second.
        async with self._pool.connection() as conn:
            rows = await conn.fetch(
                "SELECT seq, tags, embedding FROM memory_items WHERE seq > $1 ORDER BY seq "
                "LIMIT $2",
                mark.added,
                limit,
            )
            tombstones = await conn.fetch(
                "SELECT seq, item_seq FROM memory_forgotten WHERE seq > $1 ORDER BY seq",
                mark.removed,
            )
            pruned = await conn.fetchval("SELECT pruned_through FROM memory_model")
        return Changes(
            keys=np.fromiter((r["seq"] for r in rows), dtype=np.uint64, count=len(rows)),
            tags=[tuple(r["tags"]) for r in rows],
            vectors=decode_vectors([r["embedding"] for r in rows]),
            removed=[t["item_seq"] for t in tombstones if t["item_seq"] is not None],
            mark=ChangeMark(
                added=rows[-1]["seq"] if rows else mark.added,
                removed=tombstones[-1]["seq"] if tombstones else mark.removed,
            ),
            pruned_through=pruned,
            complete=limit is None or len(rows) < limit,
        )

    async def _create_schema(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
            await conn.execute(SCHEMA_SQL)
            stored = await conn.fetchval(
                "INSERT INTO memory_model (model) VALUES ($1) "
                "ON CONFLICT (only_row) DO UPDATE SET model = memory_model.model "
                "RETURNING model",
                self._model_id,
            )
            await conn.execute(
                "UPDATE memory_model SET store_id = md5(random()::text || clock_timestamp()::text) "
                "WHERE store_id IS NULL"
            )
        if stored != self._model_id:
            raise ModelMismatch(stored, str(self._model_id))
        log.info("memory_schema_ready", backend=self.backend)


def _recalled(row: asyncpg.Record, score: float) -> RecalledMemory:
    """A `fetch` row as recalled."""
    return RecalledMemory(
        id=row["id"],
        text=row["text"],
        tags=tuple(row["tags"]),
        metadata=json.loads(row["metadata"]),
        created_at=row["created_at"],
        score=score,
    )
