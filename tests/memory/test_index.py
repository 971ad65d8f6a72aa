"""The ANN index against exact search over the same vectors: recall, tags, deletions."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from mcp_memory import index as index_module
from mcp_memory.embedder import DIMENSIONS
from mcp_memory.index import EXPANSION_SEARCH, MIN_EXPANSION_SEARCH, AnnIndex, beam_for


def embeddings_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors in topics and subtopics, as sentence embeddings are (uniform noise
    would make every neighbour about equally far, which no index can rank)."""
    topics = rng.standard_normal((max(8, n // 500), DIMENSIONS)).astype(np.float32)
    rows = topics[rng.integers(0, len(topics), max(32, n // 20))]
    rows += 0.6 * rng.standard_normal(rows.shape).astype(np.float32)
    rows = rows[rng.integers(0, len(rows), n)]
    rows += 0.35 * rng.standard_normal(rows.shape).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def near(rng: np.random.Generator, rows: np.ndarray, n: int) -> np.ndarray:
    """Queries close to stored vectors, as a paraphrase is close to what it paraphrases."""
    picked = rows[rng.integers(0, len(rows), n)]
    # Noise of norm about 0.4: cosine about 0.93 to the vector it started from.
    picked = picked + 0.02 * rng.standard_normal(picked.shape).astype(np.float32)
    return picked / np.linalg.norm(picked, axis=1, keepdims=True)


def tags_of(key: int) -> tuple[str, ...]:
    return tuple(t for t, every in (("even", 2), ("third", 3)) if key % every == 0)


def exact_top(vectors: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[int]:
    keys = np.fromiter(vectors, dtype=np.int64)
    scores = np.stack([vectors[int(key)] for key in keys]) @ query
    return [int(keys[i]) for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.mark.parametrize("dtype", ["i8", "f16"])
def test_recall_at_10_against_exact_search_after_removals(dtype: str) -> None:
    rng = np.random.default_rng(7)
    n = 4_000
    vectors = embeddings_like(rng, n)
    keys = np.arange(1, n + 1, dtype=np.uint64)
    index = AnnIndex(dtype)  # type: ignore[arg-type]
    index.add(keys[:2_500], vectors[:2_500], [tags_of(int(k)) for k in keys[:2_500]])
    index.add(keys[2_500:], vectors[2_500:], [tags_of(int(k)) for k in keys[2_500:]])
    removed = set(range(1, n + 1, 7))
    index.remove(removed)
    index.remove([n + 100])  # never added: ignored
    kept = {int(k): v for k, v in zip(keys, vectors, strict=True) if int(k) not in removed}
    assert len(index) == len(kept)
    queries = near(np.random.default_rng(8), vectors, 200)
    found_in_top_10, found_in_candidates = [], []
    for query in queries:
        # What recall does: 4k + 20 candidates, which it re-ranks by the exact vectors.
        candidates = [key for key, _ in index.search(query, 60)]
        assert not set(candidates) & removed
        truth = set(exact_top(kept, query, 10))
        found_in_top_10.append(len(set(candidates[:10]) & truth) / 10)
        found_in_candidates.append(len(set(candidates) & truth) / 10)
    assert np.mean(found_in_candidates) >= 0.95
    if dtype == "f16":
        assert np.mean(found_in_top_10) >= 0.95


def test_tag_filter_requires_every_tag_and_skips_removed() -> None:
    rng = np.random.default_rng(8)
    index = AnnIndex()
    keys = np.arange(60, dtype=np.uint64)
    index.add(keys, embeddings_like(rng, 60), [tags_of(int(k)) for k in keys])
    index.remove([0])
    hits = index.search(embeddings_like(rng, 1)[0], 100, ["even", "third"])
    assert sorted(key for key, _ in hits) == list(range(6, 60, 6))
    assert index.search(embeddings_like(rng, 1)[0], 5, ["no-such-tag"]) == []
    assert index.tag_counts() == {"even": 29, "third": 19}


def test_a_common_tag_is_searched_through_the_graph_and_matches_exact() -> None:
    rng = np.random.default_rng(9)
    n = 4_000
    vectors = embeddings_like(rng, n)
    keys = np.arange(n, dtype=np.uint64)
    # 2,000 members, past this limit: the graph search with oversampling is what runs.
    index = AnnIndex("f16", exact_filter_limit=500)
    index.add(keys, vectors, [("even",) if k % 2 == 0 else () for k in range(n)], threads=2)
    tagged = {k: vectors[k] for k in range(0, n, 2)}
    overlap = []
    for query in near(np.random.default_rng(10), vectors, 50):
        found = [key for key, _ in index.search(query, 10, ["even"])]
        assert len(found) == 10
        assert all(key % 2 == 0 for key in found)
        overlap.append(len(set(found) & set(exact_top(tagged, query, 10))) / 10)
    assert np.mean(overlap) >= 0.95


def test_adding_a_key_twice_keeps_one_entry() -> None:
    rng = np.random.default_rng(11)
    index = AnnIndex()
    keys = np.arange(3, dtype=np.uint64)
    index.add(keys, embeddings_like(rng, 3), [("a",)] * 3)
    index.add(keys, embeddings_like(rng, 3), [("a",)] * 3)
    assert len(index) == 3
    assert index.tag_counts() == {"a": 3}


def test_scores_are_cosine_similarities() -> None:
    rng = np.random.default_rng(12)
    vectors = embeddings_like(rng, 100)
    index = AnnIndex("f32")
    index.add(np.arange(100, dtype=np.uint64), vectors, [()] * 100)
    (key, score), *_ = index.search(vectors[42], 3)
    assert key == 42
    assert score == pytest.approx(1.0, abs=1e-5)


def test_empty_index_returns_nothing() -> None:
    assert AnnIndex().search(np.ones(DIMENSIONS, dtype=np.float32), 5) == []


def test_a_loaded_graph_keeps_the_configured_beams(tmp_path) -> None:
    rng = np.random.default_rng(13)
    saved = AnnIndex(expansion_search=64, connectivity=8, expansion_add=32)
    saved.add(np.arange(50, dtype=np.uint64), embeddings_like(rng, 50), [()] * 50)
    saved.save(str(tmp_path / "graph.usearch"))
    index = AnnIndex(expansion_search=96, connectivity=8, expansion_add=48)
    index.load(str(tmp_path / "graph.usearch"), {})
    assert len(index) == 50
    assert (index.usearch.expansion_add, index.usearch.expansion_search) == (48, 96)


@pytest.mark.parametrize(
    ("size", "beam"),
    [(0, 128), (100_000, 128), (300_000, 192), (1_000_000, 640), (2_000_000, 1280), (10**8, 4096)],
)
def test_the_beam_follows_the_index_size(size: int, beam: int) -> None:
    assert beam_for(size) == beam


def test_an_index_without_a_configured_beam_searches_at_its_sizes_beam(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(14)
    vectors = embeddings_like(rng, 200)
    # Tags searched through the graph too, not exactly over their members.
    index = AnnIndex(exact_filter_limit=0)
    index.add(np.arange(100, dtype=np.uint64), vectors[:100], [()] * 100)
    index.search(vectors[0], 5)
    assert index.usearch.expansion_search == MIN_EXPANSION_SEARCH
    # As if 100 memories were a million: the beam grows with what is added.
    monkeypatch.setattr(index_module, "BEAM_MEMORIES", 100)
    index.add(np.arange(100, 200, dtype=np.uint64), vectors[100:], [("t",)] * 100)
    index.search(vectors[0], 5)
    assert index.usearch.expansion_search == 2 * EXPANSION_SEARCH
    monkeypatch.setattr(index_module, "BEAM_MEMORIES", 50)
    assert index.search(vectors[150], 5, ["t"])[0][0] == 150
    assert index.usearch.expansion_search == 4 * EXPANSION_SEARCH


def test_a_configured_beam_stays_whatever_the_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(15)
    vectors = embeddings_like(rng, 100)
    monkeypatch.setattr(index_module, "BEAM_MEMORIES", 10)
    index = AnnIndex(expansion_search=200)
    index.add(np.arange(100, dtype=np.uint64), vectors, [()] * 100)
    index.search(vectors[0], 5)
    assert index.usearch.expansion_search == 200


def test_a_search_reads_the_tags_after_a_change_in_progress() -> None:
    """Recall searches on a thread of its own while catch-ups add and remove memories on the
    event loop or a thread of theirs: a search reads the tag sets under the lock a change
    holds, so it sees them before or after the change, never part-way."""
    rng = np.random.default_rng(11)
    vectors = embeddings_like(rng, 101)
    index = AnnIndex()
    index.add(np.arange(1, 101, dtype=np.uint64), vectors[:100], [("a", "b")] * 100)
    index.add(np.array([101], dtype=np.uint64), vectors[100:], [("a",)])
    found: list[list[tuple[int, float]]] = []
    with index._busy:  # a change in progress: it tags memory 101 "b" as well
        searching = threading.Thread(
            target=lambda: found.append(index.search(vectors[100], 3, ["a", "b"]))
        )
        searching.start()
        time.sleep(0.2)
        assert not found  # waiting for the change
        index._tag(101, ("a", "b"))
    searching.join()
    assert found[0][0][0] == 101
