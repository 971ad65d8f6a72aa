"""In-memory vector index: every memory's embedding in one matrix, searched with one matmul."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mcp_memory.embedder import DIMENSIONS
from mcp_memory.models import StoredMemory


class VectorIndex:
    """Memories by row; removal moves the last row into the hole so rows stay dense.

    Vectors are L2-normalised, so a dot product is the cosine similarity.
    """

    def __init__(self, initial_capacity: int = 1024) -> None:
        self._vectors = np.zeros((initial_capacity, DIMENSIONS), dtype=np.float32)
        self._memories: list[StoredMemory] = []
        self._row_of: dict[str, int] = {}
        self._ids_by_tag: dict[str, set[str]] = {}

    def __len__(self) -> int:
        return len(self._memories)

    def __contains__(self, memory_id: str) -> bool:
        return memory_id in self._row_of

    def add(self, memories: Sequence[StoredMemory], vectors: np.ndarray) -> None:
        fresh = [(m, v) for m, v in zip(memories, vectors, strict=True) if m.id not in self._row_of]
        self._reserve(len(self._memories) + len(fresh))
        for memory, vector in fresh:
            row = len(self._memories)
            self._vectors[row] = vector
            self._memories.append(memory)
            self._row_of[memory.id] = row
            for tag in memory.tags:
                self._ids_by_tag.setdefault(tag, set()).add(memory.id)

    def remove(self, memory_ids: Iterable[str]) -> None:
        for memory_id in memory_ids:
            row = self._row_of.pop(memory_id, None)
            if row is None:
                continue
            memory = self._memories[row]
            for tag in memory.tags:
                tagged = self._ids_by_tag[tag]
                tagged.discard(memory_id)
                if not tagged:
                    del self._ids_by_tag[tag]
            last = len(self._memories) - 1
            if row != last:
                moved = self._memories[last]
                self._memories[row] = moved
                self._vectors[row] = self._vectors[last]
                self._row_of[moved.id] = row
            self._memories.pop()

    def search(
        self, query: np.ndarray, k: int, tags: Sequence[str] = ()
    ) -> list[tuple[StoredMemory, float]]:
        """The k most similar memories carrying every tag in `tags`, best first."""
        if tags:
            ids = set.intersection(*(self._ids_by_tag.get(tag, set()) for tag in tags))
            rows = np.fromiter((self._row_of[i] for i in ids), dtype=np.intp, count=len(ids))
            scores = self._vectors[rows] @ query
        else:
            rows = None
            scores = self._vectors[: len(self._memories)] @ query
        if scores.size == 0:
            return []
        k = min(k, scores.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        picked = top if rows is None else rows[top]
        return [
            (self._memories[row], float(score))
            for row, score in zip(picked, scores[top], strict=True)
        ]

    def memories(self) -> list[StoredMemory]:
        return list(self._memories)

    def tag_counts(self) -> dict[str, int]:
        return {tag: len(ids) for tag, ids in self._ids_by_tag.items()}

    def _reserve(self, needed: int) -> None:
        capacity = self._vectors.shape[0]
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        grown = np.zeros((capacity, DIMENSIONS), dtype=np.float32)
        grown[: len(self._memories)] = self._vectors[: len(self._memories)]
        self._vectors = grown
