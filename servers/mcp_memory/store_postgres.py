"""Memory storage in PostgreSQL through an asyncpg pool that reconnects by itself."""

import json

import asyncpg
import numpy as np
import structlog
from mcp_runtime.postgres import LazyPool

from mcp_memory.errors import ModelMismatch, StoreUnavailable
from mcp_memory.models import StoredMemory
from mcp_memory.store import Backend, ChangeMark, Changes, decode_vectors, encode_vector

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

    async def insert(self, memories: list[StoredMemory], vectors: np.ndarray) -> None:
        rows = [
            (m.id, m.text, list(m.tags), json.dumps(m.metadata), encode_vector(v), m.created_at)
            for m, v in zip(memories, vectors, strict=True)
        ]
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
            await conn.executemany(
                "INSERT INTO memory_items (id, text, tags, metadata, embedding, created_at) "
                "VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
                rows,
            )

    async def forget_ids(self, ids: list[str]) -> list[str]:
        return await self._forget("id = ANY($1::text[])", ids)

    async def forget_tag(self, tag: str) -> list[str]:
        return await self._forget("$1::text = ANY(tags)", tag)

    async def _forget(self, condition: str, argument: object) -> list[str]:
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK_KEY)
            gone = [
                row["id"]
                for row in await conn.fetch(
                    f"DELETE FROM memory_items WHERE {condition} RETURNING id", argument
                )
            ]
            if gone:
                await conn.execute(
                    "INSERT INTO memory_forgotten (id) SELECT unnest($1::text[])", gone
                )
        return gone

    async def changes_since(self, mark: ChangeMark) -> Changes:
        # New rows first, then tombstones: a memory added and forgotten in between
        # is either missed by both reads or removed by the second.
        async with self._pool.connection() as conn:
            rows = await conn.fetch(
                "SELECT seq, id, text, tags, metadata::text AS metadata, embedding, created_at "
                "FROM memory_items WHERE seq > $1 ORDER BY seq",
                mark.added,
            )
            tombstones = await conn.fetch(
                "SELECT seq, id FROM memory_forgotten WHERE seq > $1 ORDER BY seq", mark.removed
            )
        return Changes(
            added=[
                StoredMemory(
                    id=r["id"],
                    text=r["text"],
                    tags=tuple(r["tags"]),
                    metadata=json.loads(r["metadata"]),
                    created_at=r["created_at"],
                )
                for r in rows
            ],
            vectors=decode_vectors([r["embedding"] for r in rows]),
            removed=[t["id"] for t in tombstones],
            mark=ChangeMark(
                added=rows[-1]["seq"] if rows else mark.added,
                removed=tombstones[-1]["seq"] if tombstones else mark.removed,
            ),
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
        if stored != self._model_id:
            raise ModelMismatch(stored, str(self._model_id))
        log.info("memory_schema_ready", backend=self.backend)
