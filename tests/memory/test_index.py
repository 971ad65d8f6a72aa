"""The in-memory vector index against a brute-force search over the same vectors."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from mcp_memory.embedder import DIMENSIONS
from mcp_memory.index import VectorIndex
from mcp_memory.models import StoredMemory

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.standard_normal((n, DIMENSIONS)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def memories(n: int, start: int = 0) -> list[StoredMemory]:
    return [
        StoredMemory(
            id=f"m{i}",
            text=f"text {i}",
            tags=tuple(t for t, every in (("even", 2), ("third", 3)) if i % every == 0),
            created_at=NOW,
        )
        for i in range(start, start + n)
    ]


def brute_force(vectors: dict[str, np.ndarray], query: np.ndarray, k: int) -> list[str]:
    ids = sorted(vectors, key=lambda i: -float(vectors[i] @ query))
    return ids[:k]


def test_search_matches_brute_force_after_growth_and_removals() -> None:
    rng = np.random.default_rng(7)
    index = VectorIndex(initial_capacity=4)
    first, second = memories(300), memories(200, start=300)
    first_vectors, second_vectors = unit_rows(rng, 300), unit_rows(rng, 200)
    index.add(first, first_vectors)
    index.add(second, second_vectors)
    removed = {f"m{i}" for i in range(0, 500, 7)}
    index.remove(removed)
    index.remove(["never-existed"])
    kept = {
        m.id: v
        for m, v in zip(first + second, np.vstack([first_vectors, second_vectors]), strict=True)
        if m.id not in removed
    }
    assert len(index) == len(kept)
    for query in unit_rows(rng, 5):
        hits = index.search(query, 10)
        assert [m.id for m, _ in hits] == brute_force(kept, query, 10)
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        assert abs(scores[0] - float(kept[hits[0][0].id] @ query)) < 1e-5


def test_tag_filter_requires_every_tag() -> None:
    rng = np.random.default_rng(8)
    index = VectorIndex()
    index.add(memories(60), unit_rows(rng, 60))
    index.remove(["m0"])
    hits = index.search(unit_rows(rng, 1)[0], 100, ["even", "third"])
    assert sorted(int(m.id[1:]) for m, _ in hits) == list(range(6, 60, 6))
    assert index.search(unit_rows(rng, 1)[0], 5, ["no-such-tag"]) == []
    assert index.tag_counts() == {"even": 29, "third": 19}


def test_adding_an_id_twice_keeps_one_row() -> None:
    rng = np.random.default_rng(9)
    index = VectorIndex()
    batch = memories(3)
    index.add(batch, unit_rows(rng, 3))
    index.add(batch, unit_rows(rng, 3))
    assert len(index) == 3


def test_empty_index_returns_nothing() -> None:
    assert VectorIndex().search(np.ones(DIMENSIONS, dtype=np.float32), 5) == []
