"""SearchBatcher: searches that arrive together find what each would find alone."""

from __future__ import annotations

import asyncio

import numpy as np
from mcp_memory.index import AnnIndex
from mcp_memory.search_batcher import SearchBatcher

from tests.memory.test_index import embeddings_like, near

N = 3_000


def built_index() -> tuple[AnnIndex, np.ndarray]:
    rng = np.random.default_rng(5)
    vectors = embeddings_like(rng, N)
    index = AnnIndex("f32")
    index.add(
        np.arange(N, dtype=np.uint64),
        vectors,
        [("even",) if key % 2 == 0 else () for key in range(N)],
        threads=2,
    )
    return index, near(np.random.default_rng(6), vectors, 12)


async def test_concurrent_searches_find_what_each_finds_alone() -> None:
    index, queries = built_index()
    asks = [
        (query, 5 + 3 * (i % 4), ("even",) if i % 5 == 0 else ()) for i, query in enumerate(queries)
    ]
    alone = [index.search(query, k, tags) for query, k, tags in asks]
    batches: list[int] = []
    search_many = index.search_many

    def recorded(queries: np.ndarray, k: int, threads: int) -> list[list[tuple[int, float]]]:
        batches.append(len(queries))
        return search_many(queries, k, threads)

    index.search_many = recorded  # type: ignore[method-assign]
    batcher = SearchBatcher(threads=2)
    together = await asyncio.gather(
        *(batcher.search(index, query, k, tags) for query, k, tags in asks)
    )
    assert [[key for key, _ in hits] for hits in together] == [
        [key for key, _ in hits] for hits in alone
    ]
    assert [len(hits) for hits in together] == [k for _, k, _ in asks]
    # The untagged ones went to usearch as one batch; the tagged ones alone.
    assert batches == [sum(1 for _, _, tags in asks if not tags)]
    for hits, alone_hits in zip(together, alone, strict=True):
        np.testing.assert_allclose([s for _, s in hits], [s for _, s in alone_hits], atol=1e-6)


async def test_a_caller_gone_before_its_batch_ends_leaves_the_others_their_answers() -> None:
    index, queries = built_index()
    batcher = SearchBatcher(threads=2)
    searches = [asyncio.create_task(batcher.search(index, q, 10, ())) for q in queries[:4]]
    await asyncio.sleep(0)
    searches[1].cancel()
    done = await asyncio.gather(*searches, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    for i in (0, 2, 3):
        assert [key for key, _ in done[i]] == [key for key, _ in index.search(queries[i], 10)]
