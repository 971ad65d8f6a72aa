"""Keeps one replica's ANN index equal to the database, and starts it from a snapshot.

Start: load the snapshot named in MEMORY_INDEX_DIR and pull the store's changes since
its mark; a snapshot that is missing, damaged, of another database or model, or older
than the pruned tombstones is rebuilt from the store instead (log event
`memory_index_rebuild` says why). Serving: every recall pulls the changes since the
index's mark first (two indexed queries when nothing changed), and a background loop
does the same every few seconds, prunes old tombstones and writes a new snapshot
when enough has changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import structlog

from mcp_memory import snapshot
from mcp_memory.embedding_models import DEFAULT_MODEL, ModelId
from mcp_memory.errors import NotReady, StoreUnavailable
from mcp_memory.index import CONNECTIVITY, DTYPE, AnnIndex, IndexDtype
from mcp_memory.snapshot import SnapshotUnusable
from mcp_memory.store import ChangeMark, Changes, MemoryStore

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Rows per store read while building: bounds the memory a build needs besides the index.
BUILD_PAGE = 50_000
# Rows per read while serving: a large import elsewhere is taken in steps, each added
# in a thread so that recalls are not held up behind the whole of it.
SYNC_PAGE = 5_000
# Changes a recall adds inline: cheaper than a thread hop, and quick enough.
INLINE_CHANGES = 256


@dataclass(frozen=True)
class IndexOptions:
    dtype: IndexDtype = DTYPE
    connectivity: int = CONNECTIVITY
    # None: the search beam follows the index's size (index.beam_for).
    expansion_search: int | None = None
    snapshot_dir: Path | None = None
    snapshot_min_changes: int = 10_000
    snapshot_interval_seconds: float = 600.0
    tombstone_retention_seconds: float = 7 * 86_400.0
    sync_interval_seconds: float = 5.0
    build_threads: int = 1


class SyncedIndex:
    """An AnnIndex plus the change mark up to which it reflects the store."""

    def __init__(
        self, store: MemoryStore, options: IndexOptions, model: ModelId = DEFAULT_MODEL
    ) -> None:
        self._store = store
        self._options = options
        # The embedding model whose vectors the index holds; a snapshot of another is not used.
        self._model = model
        self._mark = ChangeMark()
        self._lock = asyncio.Lock()
        self.index = self._empty_index()
        self._store_id = ""
        self._loading: asyncio.Task[None] | None = None
        self._maintaining: asyncio.Task[None] | None = None
        self._progress = "not started"
        self._changed_since_snapshot = 0
        self._snapshot_at = time.monotonic()
        self._pruned_at = 0.0
        self._store_error: StoreUnavailable | None = None
        self._snapshot_task: asyncio.Task[None] | None = None
        # After a failed write (disk full, read-only), none is tried again before this time.
        self._snapshot_failures = 0
        self._snapshot_retry_at = 0.0
        # Changes applied to the index since start, page by page.
        self._applied = 0

    def start(self) -> None:
        """Load or build the index in the background, then keep it in sync."""
        self._loading = asyncio.create_task(self._load(), name="load-memory-index")

    async def stop(self) -> None:
        # A snapshot half written is wasted: let it finish (seconds) before exiting.
        await self.snapshot_settled()
        for task in (self._maintaining, self._loading):
            if task is not None and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def snapshot_settled(self) -> None:
        """Return once no snapshot is being written; until then refresh() answers from the
        index as it is, without the latest changes."""
        if self._snapshot_task is not None and not self._snapshot_task.done():
            await asyncio.gather(self._snapshot_task, return_exceptions=True)

    def check_ready(self) -> None:
        """Raise NotReady until the index is loaded and caught up."""
        if self._loading is None or not self._loading.done():
            raise NotReady(f"memory index {self._progress}")
        if self._loading.cancelled():
            raise NotReady("memory index loading was cancelled")
        if (error := self._loading.exception()) is not None:
            raise NotReady(f"memory index failed to load: {error}")

    async def refresh(self) -> AnnIndex:
        """The index with every change committed before this call."""
        if self._loading is None:
            raise NotReady("memory index is not started")
        if not self._loading.done():
            if self._store_error is not None:
                # The load retries by itself; a caller is told now rather than kept waiting.
                raise self._store_error
            await asyncio.shield(self._loading)
        if self._snapshot_pending():
            # Changes wait while a snapshot is written (a second or two at a million);
            # a recall meanwhile answers from the index as it is. A snapshot still waiting
            # for the lock counts: the lock is fair, so a recall queued behind it would
            # wait for the whole write.
            return self.index
        async with self._lock:
            await self._catch_up(SYNC_PAGE)
        return self.index

    async def _load(self) -> None:
        started = time.perf_counter()
        self._progress = "connecting to the store"
        info = await self._until_store_answers(self._store.info)
        self._store_id = info.store_id
        source = "rebuild"
        async with self._lock:
            meta = await self._read_snapshot(info.pruned_through)
            if meta is not None:
                source = "snapshot"
                self._mark = meta.mark
            else:
                self.index = self._empty_index()
                # Tombstones pruned before a fresh build are of rows it never sees.
                self._mark = ChangeMark(added=0, removed=info.pruned_through)
            self._progress = f"loading: {len(self.index)} of about {info.last_added}"
            applied_before = self._applied
            # An outage mid-build keeps the pages applied so far: the retry goes on from
            # the mark they reached.
            await self._until_store_answers(
                lambda: self._catch_up(BUILD_PAGE, threads=self._options.build_threads)
            )
            applied = self._applied - applied_before
        log.info(
            "memory_index_ready",
            source=source,
            memories=len(self.index),
            caught_up=applied,
            index_mib=round(self.index.memory_bytes() / 2**20, 1),
            seconds=round(time.perf_counter() - started, 3),
        )
        # Ready now; the snapshot is written meanwhile.
        if source == "rebuild" or applied >= self._options.snapshot_min_changes:
            self._snapshot_soon()
        self._maintaining = asyncio.create_task(self._maintain(), name="maintain-memory-index")

    async def _until_store_answers(self, step: Callable[[], Awaitable[T]]) -> T:
        """`step`'s result once the store answers, retrying with backoff meanwhile: a load
        given up on would leave the replica unready, and unmaintained, until restarted."""
        pause = 0.5
        while True:
            try:
                result = await step()
            except StoreUnavailable as exc:
                if self._store_error is None:
                    log.warning("memory_index_load_waiting_for_store", error=str(exc))
                self._store_error = exc
                self._progress = f"waiting for the store: {exc}"
                await asyncio.sleep(pause)
                pause = min(2 * pause, 5.0)
            else:
                self._store_error = None
                return result

    def _empty_index(self) -> AnnIndex:
        options = self._options
        return AnnIndex(options.dtype, options.expansion_search, connectivity=options.connectivity)

    def _snapshot_pending(self) -> bool:
        return self._snapshot_task is not None and not self._snapshot_task.done()

    def _snapshot_soon(self) -> None:
        if not self._snapshot_pending():
            self._snapshot_task = asyncio.create_task(
                self._write_snapshot(), name="write-memory-snapshot"
            )

    async def _read_snapshot(self, pruned_through: int) -> snapshot.SnapshotMeta | None:
        directory = self._options.snapshot_dir
        if directory is None:
            return None
        self._progress = f"reading snapshot in {directory}"
        index = self._empty_index()
        try:
            meta = await asyncio.to_thread(
                snapshot.read, directory, index, model=self._model, store_id=self._store_id
            )
            if meta.removed < pruned_through:
                raise SnapshotUnusable(
                    "tombstones_pruned",
                    f"snapshot has forgets up to {meta.removed}, the store pruned "
                    f"tombstones up to {pruned_through}",
                )
        except SnapshotUnusable as exc:
            log.warning(
                "memory_index_rebuild", reason=exc.reason, detail=exc.detail, dir=str(directory)
            )
            return None
        log.info(
            "memory_snapshot_loaded", memories=meta.count, added=meta.added, dir=str(directory)
        )
        self.index = index
        return meta

    async def _catch_up(self, page: int, threads: int = 1) -> int:
        """Apply the store's changes since the mark, page by page; caller holds the lock."""
        applied = 0
        while True:
            changes = await self._store.changes_since(self._mark, limit=page)
            if changes.pruned_through > self._mark.removed and (
                self._mark.added or len(self.index)
            ):
                await self._rebuild_after_pruning(changes.pruned_through)
                continue
            await self._apply(changes, threads)
            count = len(changes.keys) + len(changes.removed)
            applied += count
            # Counted page by page: a later page's failure leaves these applied.
            self._applied += count
            self._changed_since_snapshot += count
            self._mark = changes.mark
            self._progress = f"loading: {len(self.index)} memories so far"
            if changes.complete:
                break
        return applied

    async def _apply(self, changes: Changes, threads: int) -> None:
        if len(changes.keys) > INLINE_CHANGES:
            await asyncio.to_thread(
                self.index.add, changes.keys, changes.vectors, changes.tags, threads=threads
            )
        else:
            self.index.add(changes.keys, changes.vectors, changes.tags)
        self.index.remove(changes.removed)

    async def _rebuild_after_pruning(self, pruned_through: int) -> None:
        # Only a replica that slept through the whole retention gets here.
        log.warning(
            "memory_index_rebuild",
            reason="tombstones_pruned",
            detail=f"index has forgets up to {self._mark.removed}, the store pruned "
            f"tombstones up to {pruned_through}",
        )
        self.index = self._empty_index()
        self._mark = ChangeMark(added=0, removed=pruned_through)
        # The snapshot on disk is as stale as the index was: replace it next round.
        self._changed_since_snapshot += self._options.snapshot_min_changes

    async def _maintain(self) -> None:
        options = self._options
        while True:
            await asyncio.sleep(options.sync_interval_seconds)
            try:
                async with self._lock:
                    await self._catch_up(SYNC_PAGE)
                now = time.monotonic()
                # Pruning is rare work: an hour apart is plenty for retentions in days.
                if now - self._pruned_at >= min(3600.0, options.tombstone_retention_seconds / 4):
                    self._pruned_at = now
                    pruned = await self._store.prune_tombstones(options.tombstone_retention_seconds)
                    if pruned:
                        log.info("memory_tombstones_pruned", tombstones=pruned)
                due = now >= self._snapshot_retry_at and (
                    self._changed_since_snapshot >= options.snapshot_min_changes
                    or (
                        self._changed_since_snapshot > 0
                        and now - self._snapshot_at >= options.snapshot_interval_seconds
                    )
                )
                if due:
                    self._snapshot_soon()
                    await asyncio.shield(self._snapshot_task)  # type: ignore[arg-type]
            except StoreUnavailable as exc:
                log.warning("memory_index_sync_failed", error=str(exc))
            except Exception as exc:  # the loop must outlive one bad round
                log.error(
                    "memory_index_maintenance_failed",
                    error=str(exc),
                    error_type=type(exc).__name__,
                )

    async def _write_snapshot(self) -> None:
        directory = self._options.snapshot_dir
        if directory is None:
            return
        started = time.perf_counter()
        # The lock keeps changes out while the graph is written; recalls go on.
        async with self._lock:
            mark, count = self._mark, len(self.index)
            try:
                path = await asyncio.to_thread(
                    snapshot.write,
                    directory,
                    self.index,
                    model=self._model,
                    store_id=self._store_id,
                    mark=mark,
                )
            except (OSError, RuntimeError) as exc:  # usearch reports a failed save as either
                self._snapshot_failed(directory, exc)
                return
            self._changed_since_snapshot = 0
            self._snapshot_at = time.monotonic()
            self._snapshot_failures = 0
            self._snapshot_retry_at = 0.0
        log.info(
            "memory_snapshot_written",
            path=str(path),
            memories=count,
            added=mark.added,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _snapshot_failed(self, directory: Path, exc: Exception) -> None:
        """Back off before the next try: retried every sync round, a full disk had the whole
        index rewritten every few seconds, holding changes back each time."""
        options = self._options
        self._snapshot_failures += 1
        pause = min(
            options.sync_interval_seconds * 2**self._snapshot_failures,
            options.snapshot_interval_seconds,
        )
        self._snapshot_retry_at = time.monotonic() + pause
        log.error(
            "memory_snapshot_failed",
            dir=str(directory),
            error=str(exc),
            error_type=type(exc).__name__,
            failures=self._snapshot_failures,
            retry_in_seconds=round(pause, 1),
        )
