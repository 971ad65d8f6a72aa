"""Approximate nearest-neighbour index over the memories' vectors (usearch HNSW), with tags.

Only what a search needs lives here: each memory's vector, as int8 by default,
under its store sequence number as key, and the tags of tagged memories for filtering.
Texts stay in the database; recall fetches the few rows it returns.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from usearch.index import Index, Matches

from mcp_memory.embedder import DIMENSIONS

IndexDtype = Literal["i8", "f16", "f32"]

# Measured at a million memories on two cores (bench/memory_index.py, 4k + 20 candidates
# re-ranked by float32): 16 links a node and a build beam of 128 find 0.69 of the true top
# 10 at search beam 128 and need a beam of about 3,000 (20 ms) for 0.95; 32 links and a
# build beam of 256 find 0.955 at beam 512 in 3.3 ms (p95 5.6 ms), for 128 more bytes a
# memory and about twice the build CPU (a rebuild of a million: 17 minutes with int8).
CONNECTIVITY = 32
EXPANSION_ADD = 256
# The search beam follows the index's size unless one is configured: 640 at a million, in
# proportion below (128 at least) and above (4,096 at most). The whole recall over HTTP at
# a million (`bench/memory.py --scale`) found 0.949-0.950 of the true top 10 at beam 512,
# on the 0.95 goal's line, and 0.963-0.965 at 640; in process (`bench/memory_index.py`)
# 300,000 memories find 0.994 at 192 and 100,000 find 0.997 at 128, where 640 would cost
# them 1-2 ms more a search for nothing.
EXPANSION_SEARCH = 640
BEAM_MEMORIES = 1_000_000
MIN_EXPANSION_SEARCH = 128
MAX_EXPANSION_SEARCH = 4096
# int8 halves float16's 768 bytes a vector and, re-ranked, finds as much at a million on
# sentence embeddings: 0.955 both at beam 512 (the index is 1,016 MiB, float16's 1,394).
DTYPE: IndexDtype = "i8"
# A tag held by at most this many memories is searched exactly over its members: cheaper
# and exact, where a graph search would have to wade through the non-members.
EXACT_FILTER_LIMIT = 20_000
# A graph search for a tag asks for this many times the candidates its share predicts.
FILTER_OVERSAMPLING = 4


def beam_for(size: int) -> int:
    """The search beam for an index of `size` memories when none is configured."""
    beam = round(EXPANSION_SEARCH * size / BEAM_MEMORIES)
    return min(MAX_EXPANSION_SEARCH, max(MIN_EXPANSION_SEARCH, beam))


class AnnIndex:
    """Keys are store sequence numbers; search returns (key, cosine similarity) pairs.

    usearch keeps per-thread search state indexed by the thread number a call passes,
    so two calls at once from different Python threads would share it: searches and
    changes take `_busy`. A save only reads the graph, so it takes `_changing` alone
    and searches go on while it writes the file; changes take both.
    """

    def __init__(
        self,
        dtype: IndexDtype = DTYPE,
        expansion_search: int | None = None,
        exact_filter_limit: int = EXACT_FILTER_LIMIT,
        *,
        connectivity: int = CONNECTIVITY,
        expansion_add: int = EXPANSION_ADD,
    ) -> None:
        self.dtype = dtype
        # The graph's shape: the server keeps the constants; bench/memory_index.py tries others.
        self.connectivity = connectivity
        self.expansion_add = expansion_add
        self.exact_filter_limit = exact_filter_limit
        # None: the beam follows the index's size (`beam_for`).
        self.expansion_search = expansion_search
        self._index = self._empty()
        # Tags of tagged memories only; equal tag tuples share one object.
        self._tags_of: dict[int, tuple[str, ...]] = {}
        self._keys_by_tag: dict[str, set[int]] = {}
        self._interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._busy = threading.Lock()
        self._changing = threading.Lock()

    def _empty(self) -> Index:
        return Index(
            ndim=DIMENSIONS,
            metric="cos",
            dtype=self.dtype,
            connectivity=self.connectivity,
            expansion_add=self.expansion_add,
            expansion_search=self._beam(0),
        )

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: int) -> bool:
        return bool(self._index.contains(key))

    @property
    def usearch(self) -> Index:
        return self._index

    def memory_bytes(self) -> int:
        return int(self._index.memory_usage)

    def add(
        self,
        keys: np.ndarray,
        vectors: np.ndarray,
        tags: Sequence[tuple[str, ...]],
        *,
        threads: int = 1,
    ) -> None:
        if len(keys) == 0:
            return
        keys = np.asarray(keys, dtype=np.uint64)
        with self._changing, self._busy:
            fresh = ~np.asarray(self._index.contains(keys), dtype=bool).reshape(-1)
            if not fresh.all():
                keys, vectors = keys[fresh], vectors[fresh]
                tags = [t for t, keep in zip(tags, fresh, strict=True) if keep]
            if len(keys) == 0:
                return
            self._index.add(keys, np.ascontiguousarray(vectors, dtype=np.float32), threads=threads)
            for key, memory_tags in zip(keys.tolist(), tags, strict=True):
                if memory_tags:
                    self._tag(key, memory_tags)

    def remove(self, keys: Iterable[int]) -> None:
        present = [k for k in keys if self._index.contains(k)]
        if not present:
            return
        with self._changing, self._busy:
            self._index.remove(np.asarray(present, dtype=np.uint64))
            for key in present:
                for tag in self._tags_of.pop(key, ()):
                    tagged = self._keys_by_tag[tag]
                    tagged.discard(key)
                    if not tagged:
                        del self._keys_by_tag[tag]

    def search(
        self, query: np.ndarray, k: int, tags: Sequence[str] = ()
    ) -> list[tuple[int, float]]:
        """Up to k (key, similarity) pairs carrying every tag in `tags`, best first."""
        size = len(self._index)
        if size == 0:
            return []
        if not tags:
            with self._busy:
                matches = self._graph_search(query, min(k, size))
            return _pairs(matches.keys, matches.distances)
        # The tag sets too are read under the lock: `add` and `remove` change them, on
        # another thread than the search's (the recall's search thread, a catch-up's).
        with self._busy:
            members = self._members(tags)
            if not members:
                return []
            if len(members) <= self.exact_filter_limit:
                return self._exact(query, k, members)
            wanted = min(size, math.ceil(FILTER_OVERSAMPLING * k * size / len(members)))
            matches = self._graph_search(query, wanted)
            hits = [
                (key, score)
                for key, score in _pairs(matches.keys, matches.distances)
                if key in members
            ]
            if len(hits) >= k or wanted >= size:
                return hits[:k]
            return self._exact(query, k, members)

    def _graph_search(self, query: np.ndarray, count: int) -> Matches:
        """usearch's search at the beam for the index's current size; the caller holds
        `_busy`."""
        beam = self._beam(len(self._index))
        if self._index.expansion_search != beam:
            self._index.expansion_search = beam
        return self._index.search(query, count, threads=1)

    def _beam(self, size: int) -> int:
        return self.expansion_search if self.expansion_search is not None else beam_for(size)

    def _members(self, tags: Sequence[str]) -> set[int]:
        sets = sorted((self._keys_by_tag.get(tag, set()) for tag in tags), key=len)
        return sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]

    def _exact(self, query: np.ndarray, k: int, members: set[int]) -> list[tuple[int, float]]:
        """The best k of `members` by exact score; the caller holds `_busy`."""
        keys = np.fromiter(members, dtype=np.uint64, count=len(members))
        vectors = np.asarray(self._index.get(keys, dtype="f32"), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1)
        scores = (vectors @ query) / np.clip(norms, 1e-12, None)
        k = min(k, len(keys))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(keys[i]), float(scores[i])) for i in top]

    def tag_counts(self) -> dict[str, int]:
        with self._busy:
            return {tag: len(keys) for tag, keys in self._keys_by_tag.items()}

    def tagged(self) -> dict[str, np.ndarray]:
        """Every tag's keys, sorted: what a snapshot stores besides the graph."""
        return {
            tag: np.sort(np.fromiter(keys, dtype=np.uint64, count=len(keys)))
            for tag, keys in self._keys_by_tag.items()
        }

    def save(self, path: str) -> None:
        with self._changing:
            self._index.save(path)

    def load(self, path: str, tagged: dict[str, Iterable[int]]) -> None:
        """Replace the contents with a saved graph and its tags."""
        index = self._empty()
        index.load(path)
        # A loaded graph keeps its file's links a node, but takes the beams from usearch's
        # defaults unless told.
        index.expansion_add = self.expansion_add
        index.expansion_search = self._beam(len(index))
        tags_of: dict[int, list[str]] = {}
        for tag, keys in tagged.items():
            for key in keys:
                tags_of.setdefault(key, []).append(tag)
        self._index = index
        self._tags_of, self._keys_by_tag, self._interned = {}, {}, {}
        for key, memory_tags in tags_of.items():
            self._tag(key, tuple(memory_tags))

    def _tag(self, key: int, memory_tags: tuple[str, ...]) -> None:
        memory_tags = self._interned.setdefault(memory_tags, memory_tags)
        self._tags_of[key] = memory_tags
        for tag in memory_tags:
            self._keys_by_tag.setdefault(tag, set()).add(key)


def _pairs(keys: np.ndarray, distances: np.ndarray) -> list[tuple[int, float]]:
    # usearch's cosine distance is 1 - similarity.
    return [(int(k), 1.0 - float(d)) for k, d in zip(keys, distances, strict=True)]
