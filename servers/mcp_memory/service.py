"""Memory operations with their validation: the layer between the tools and the store."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog

from mcp_memory.cache import IndexOptions, SyncedIndex
from mcp_memory.embedder import DIMENSIONS
from mcp_memory.engine import EmbeddingEngine
from mcp_memory.errors import InvalidArgument, StoreUnavailable
from mcp_memory.index import AnnIndex
from mcp_memory.metrics import MemoryMetrics
from mcp_memory.models import (
    Forgotten,
    MemoryStats,
    NewMemory,
    RecalledMemory,
    StoredMemory,
)
from mcp_memory.store import MemoryStore

MAX_K = 100
# Recall re-ranks 4k + 20 candidates by exact scores: with 2k + 10, near-duplicates around
# a query (int8 rounding makes them tie) cost recall@10 0.93 at 20,000 (bench --scale).
RERANK_FACTOR = 4
RERANK_EXTRA = 20
DEFAULT_K = 5
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_METADATA_BYTES = 16_384
STATS_TOP_TAGS = 100

log = structlog.get_logger(__name__)


class MemoryService:
    def __init__(
        self,
        store: MemoryStore,
        engine: EmbeddingEngine,
        metrics: MemoryMetrics,
        *,
        max_text_chars: int,
        max_texts_per_call: int,
        index_options: IndexOptions,
    ) -> None:
        self._store = store
        self._engine = engine
        self._metrics = metrics
        self.metrics = metrics
        self._max_text_chars = max_text_chars
        self.max_texts_per_call = max_texts_per_call
        self._synced = SyncedIndex(store, index_options, engine.model_id)
        # Graph searches run on a thread of their own, one at a time as the index allows
        # (`AnnIndex`'s lock): usearch lets go of the GIL while it walks the graph, 6-15 ms
        # at a million memories, which on the event loop held up every other request as long.
        self._searches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index_search")

    async def start(self) -> None:
        """Start loading the model, open the store and start loading the index.

        A database that is down is retried on first use (and by /ready); a database
        holding another model's vectors stops startup.
        """
        self._engine.start()
        try:
            await self._store.open(self._engine.model_id)
        except StoreUnavailable as exc:
            log.warning("memory_store_unavailable_at_start", error=str(exc))
        self._synced.start()

    async def open_for_writes(self) -> None:
        """Load the model and open the store, without an index: for the bulk import."""
        self._engine.start()
        await self._store.open(self._engine.model_id)

    async def stop(self) -> None:
        await self._synced.stop()
        await self._engine.stop()
        await self._store.close()
        self._searches.shutdown()

    async def memory_index(self) -> None:
        """Readiness check: the index is loaded (from a snapshot or rebuilt) and caught up."""
        self._synced.check_ready()

    async def embedding_model(self) -> None:
        """Readiness check: the model is loaded."""
        await self._engine.check_ready()

    async def database(self) -> None:
        """Readiness check: the store answers."""
        await self._store.ping()

    async def remember(
        self, text: str, tags: Sequence[str] | None, metadata: dict[str, Any] | None
    ) -> StoredMemory:
        (memory,) = await self.remember_many([NewMemory(text=text, tags=tags, metadata=metadata)])
        return memory

    async def remember_many(self, items: Sequence[NewMemory]) -> list[StoredMemory]:
        if not items:
            raise InvalidArgument("items", "must hold at least one memory")
        if len(items) > self.max_texts_per_call:
            raise InvalidArgument(
                "items",
                f"must hold at most {self.max_texts_per_call} memories per call "
                f"(MEMORY_MAX_TEXTS_PER_CALL), got {len(items)}",
            )
        prefix = (lambda i: f"items[{i}].") if len(items) > 1 else (lambda i: "")
        memories = [self.checked(item, prefix(i)) for i, item in enumerate(items)]
        await self.store_memories(memories)
        return memories

    def checked(
        self,
        item: NewMemory,
        prefix: str = "",
        memory_id: str | None = None,
        created_at: datetime | None = None,
    ) -> StoredMemory:
        """The memory to store for `item` (created now unless `created_at`, an export's);
        InvalidArgument names what is wrong with it."""
        return StoredMemory(
            id=memory_id or uuid.uuid4().hex,
            text=self._text(item.text, f"{prefix}text"),
            tags=_tags(item.tags, f"{prefix}tags"),
            metadata=_metadata(item.metadata, f"{prefix}metadata"),
            created_at=created_at or datetime.now(UTC),
        )

    async def store_memories(
        self, memories: list[StoredMemory], *, skip_existing: bool = False
    ) -> None:
        """Embed and store checked memories: what remember_many and the import share."""
        vectors = await self._engine.embed([m.text for m in memories])
        # One transaction: the call stores all of its memories or, failing, none.
        await self._store.insert(memories, vectors, skip_existing=skip_existing)

    async def recall(self, query: str, k: int, tags: Sequence[str] | None) -> list[RecalledMemory]:
        query = self._text(query, "query")
        if not 1 <= k <= MAX_K:
            raise InvalidArgument("k", f"must be between 1 and {MAX_K}, got {k}")
        wanted = _tags(tags, "tags")
        vectors, index = await asyncio.gather(self._engine.embed([query]), self._refresh())
        query_vector = vectors[0]
        # The index scores quantised vectors: take a few more candidates than asked and
        # rank them by the exact float32 vectors stored with their rows.
        candidates = await asyncio.get_running_loop().run_in_executor(
            self._searches, index.search, query_vector, RERANK_FACTOR * k + RERANK_EXTRA, wanted
        )
        fetched = await self._store.fetch([key for key, _ in candidates])
        scores = fetched.vectors @ query_vector
        best = np.argsort(-scores, kind="stable")[:k]
        return [fetched.recalled(i, round(float(scores[i]), 6)) for i in best]

    async def forget(self, memory_id: str | None, tag: str | None) -> Forgotten:
        if (memory_id is None) == (tag is None):
            given = "both" if memory_id is not None else "neither"
            raise InvalidArgument("id/tag", f"give exactly one of id or tag; got {given}")
        if memory_id is not None:
            if not memory_id.strip():
                raise InvalidArgument("id", "must not be empty")
            gone = await self._store.forget_ids([memory_id.strip()])
        else:
            (clean_tag,) = _tags([tag or ""], "tag")
            gone = await self._store.forget_tag(clean_tag)
        await self._refresh()
        return Forgotten(forgotten=len(gone), ids=gone)

    async def stats(self) -> MemoryStats:
        index = await self._refresh()
        embedder = self._engine.embedder
        counts = index.tag_counts()
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:STATS_TOP_TAGS]
        return MemoryStats(
            memories=len(index),
            tags=dict(top),
            distinct_tags=len(counts),
            model=self._engine.model_id,
            dimensions=DIMENSIONS,
            device=embedder.device if embedder else "cpu",
            execution_provider=embedder.provider if embedder else "loading",
            backend=self._store.backend,
        )

    async def _refresh(self) -> AnnIndex:
        index = await self._synced.refresh()
        self._metrics.memories.set(len(index))
        return index

    def _text(self, value: str, argument: str) -> str:
        text = value.strip()
        if not text:
            raise InvalidArgument(argument, "must not be empty")
        _check_storable(text, argument)
        if len(text) > self._max_text_chars:
            raise InvalidArgument(
                argument,
                f"must be at most {self._max_text_chars} characters (MEMORY_MAX_TEXT_CHARS), "
                f"got {len(text)}",
            )
        return text


def _tags(values: Sequence[str] | None, argument: str) -> tuple[str, ...]:
    if not values:
        return ()
    if len(values) > MAX_TAGS:
        raise InvalidArgument(argument, f"at most {MAX_TAGS} tags, got {len(values)}")
    tags: dict[str, None] = {}
    for value in values:
        tag = value.strip()
        if not tag:
            raise InvalidArgument(argument, "a tag must not be empty")
        if len(tag) > MAX_TAG_CHARS:
            raise InvalidArgument(argument, f"a tag must be at most {MAX_TAG_CHARS} characters")
        _check_storable(tag, argument)
        tags[tag] = None
    return tuple(tags)


def _check_storable(text: str, argument: str) -> None:
    """Refuse what PostgreSQL cannot store (NUL, and lone surrogates, which are not UTF-8),
    so that both stores keep the same texts and the caller learns which argument to fix."""
    if (nul := text.find("\x00")) >= 0:
        raise InvalidArgument(argument, f"must not contain NUL (U+0000), found at index {nul}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument(
            argument,
            f"must not contain an unpaired surrogate (U+{ord(text[exc.start]):04X}),"
            f" found at index {exc.start}",
        ) from None


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _metadata(value: dict[str, Any] | None, argument: str) -> dict[str, Any]:
    if not value:
        return {}
    for text in _strings_in(value):
        _check_storable(text, argument)
    try:
        # JSON has no NaN or Infinity, though Python's json and pydantic's parser take them:
        # stored, a memory holding one could not be returned, nor stored on PostgreSQL.
        size = len(json.dumps(value, allow_nan=False).encode())
    except ValueError:
        raise InvalidArgument(argument, "must not contain NaN or Infinity (not JSON)") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(
            argument, f"must be at most {MAX_METADATA_BYTES} bytes as JSON, got {size}"
        )
    return value
