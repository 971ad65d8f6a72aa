"""The storage interface the memory service depends on, and the factory that picks a backend.

Every write gets a sequence number, and writes commit in sequence order (the backends
serialise writers), so a reader that remembers the highest number it has seen can
fetch exactly what changed since: new memories from one sequence, forgotten ids
(tombstones) from another. That is how each replica keeps its in-memory index equal
to the database without rereading it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from mcp_memory.embedder import DIMENSIONS
from mcp_memory.models import RecalledMemory, StoredMemory

Backend = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class ChangeMark:
    """Highest sequence numbers seen: of stored memories, and of forgotten ones."""

    added: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Changes:
    """What an index needs of the memories stored and forgotten past a mark.

    Memories come as keys (their sequence numbers), tags and vectors, never texts;
    forgotten ones as the keys they had. `pruned_through` is the highest tombstone
    sequence number already pruned: a reader whose mark is below it may have missed a
    forget and must rebuild. `complete` is false when `limit` cut the added rows short.
    """

    keys: np.ndarray
    tags: list[tuple[str, ...]]
    vectors: np.ndarray
    removed: list[int]
    mark: ChangeMark
    pruned_through: int = 0
    complete: bool = True


@dataclass(frozen=True)
class StoreInfo:
    """Identity of the database (a snapshot of another one is useless) and its size."""

    store_id: str
    last_added: int
    pruned_through: int


@dataclass(frozen=True)
class Candidates:
    """A recall's candidates as read from the store: each one's key and float32 vector, to
    rank them by, and its row, made into a memory only for the few the recall returns (it
    reads 4k + 20 rows to return k; making all of them cost a million-memory recall 0.3 ms).
    """

    keys: list[int]
    vectors: np.ndarray
    rows: Sequence[Any]
    # The backend's reading of one of its rows, with the recall's score.
    to_recalled: Callable[[Any, float], RecalledMemory]

    def __len__(self) -> int:
        return len(self.keys)

    def recalled(self, index: int, score: float) -> RecalledMemory:
        return self.to_recalled(self.rows[index], score)


class MemoryStore(Protocol):
    backend: Backend

    async def open(self, model_id: str) -> None:
        """Connect, create the schema and check the stored vectors come from `model_id`.

        Raises StoreUnavailable if the database is down, ModelMismatch if it holds
        vectors of another model.
        """

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""

    async def info(self) -> StoreInfo: ...

    async def insert(
        self, memories: list[StoredMemory], vectors: np.ndarray, *, skip_existing: bool = False
    ) -> None:
        """Store all of them in one transaction.

        With `skip_existing`, ids already stored are left as they are (a resumed import).
        """

    async def forget_ids(self, ids: list[str]) -> list[str]:
        """Delete these memories; return the ids that existed."""

    async def forget_tag(self, tag: str) -> list[str]:
        """Delete every memory carrying `tag`; return their ids."""

    async def changes_since(self, mark: ChangeMark, limit: int | None = None) -> Changes:
        """Added rows past `mark.added` (at most `limit`), every tombstone past `mark.removed`."""

    async def fetch(self, keys: list[int]) -> Candidates:
        """The memories still stored under these keys, with their float32 vectors."""

    async def prune_tombstones(self, older_than_seconds: float) -> int:
        """Delete tombstones older than this; return how many."""


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_vectors(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.empty((0, DIMENSIONS), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), DIMENSIONS)


def make_store(database_url: str | None, data_dir: Path) -> MemoryStore:
    """PostgreSQL when a URL is configured, otherwise an embedded SQLite file in `data_dir`."""
    if database_url:
        from mcp_memory.store_postgres import PostgresMemoryStore

        return PostgresMemoryStore(database_url)
    from mcp_memory.store_sqlite import SqliteMemoryStore

    return SqliteMemoryStore(data_dir / "memory.sqlite3")
