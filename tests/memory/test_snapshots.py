"""Index snapshots: a restart loads one and catches up from the change log; a missing,
damaged, foreign or too old one is rebuilt with a log event naming why; tombstones are
pruned and a replica that missed pruned ones rebuilds."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from mcp_memory import snapshot
from mcp_memory.cache import IndexOptions, SyncedIndex
from mcp_memory.embedder import DIMENSIONS
from mcp_memory.embedding_models import DEFAULT_MODEL, DYNAMIC_INT8, ModelId
from mcp_memory.errors import NotReady, StoreUnavailable
from mcp_memory.index import AnnIndex
from mcp_memory.models import StoredMemory
from mcp_memory.snapshot import CURRENT, INDEX_FILE, META_FILE
from mcp_memory.store import ChangeMark, Changes, MemoryStore
from mcp_memory.store_postgres import PostgresMemoryStore
from mcp_memory.store_sqlite import SqliteMemoryStore
from structlog.testing import capture_logs

RNG = np.random.default_rng(21)


@pytest.fixture
def store(sqlite_store: MemoryStore) -> MemoryStore:
    return sqlite_store


async def remember(store: MemoryStore, n: int, tag: str = "t") -> list[str]:
    rows = RNG.standard_normal((n, DIMENSIONS)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    now = datetime.now(UTC)
    memories = [
        StoredMemory(id=uuid.uuid4().hex, text=f"m{i}", tags=(tag,), created_at=now)
        for i in range(n)
    ]
    await store.insert(memories, rows)
    return [m.id for m in memories]


def options(directory: Path, **overrides: float) -> IndexOptions:
    values: dict = {"snapshot_dir": directory, "sync_interval_seconds": 3600.0}
    values.update(overrides)
    return IndexOptions(**values)


async def loaded(
    store: MemoryStore, opts: IndexOptions, model: ModelId = DEFAULT_MODEL
) -> tuple[SyncedIndex, list[dict]]:
    """A started SyncedIndex of `model`'s vectors once ready, and the log events it emitted on
    the way. The snapshot a rebuild starts is awaited too: while it is written, refresh()
    leaves changes for later, and a test that then changes the store would race it."""
    synced = SyncedIndex(store, opts, model)
    with capture_logs() as events:
        synced.start()
        await synced.refresh()
    await synced.snapshot_settled()
    return synced, events


def event(events: list[dict], name: str) -> dict:
    (found,) = [e for e in events if e["event"] == name]
    return found


async def contents(synced: SyncedIndex) -> tuple[int, dict[str, int]]:
    index = await synced.refresh()
    return len(index), index.tag_counts()


async def test_a_restart_loads_the_snapshot_and_applies_the_changes_since(
    store: MemoryStore, tmp_path: Path
) -> None:
    snapshots = tmp_path / "index"
    await remember(store, 200, "old")
    first, events = await loaded(store, options(snapshots))
    assert event(events, "memory_index_rebuild")["reason"] == "missing"
    assert event(events, "memory_index_ready")["source"] == "rebuild"
    await first.stop()  # waits for the snapshot being written
    assert (snapshots / CURRENT).is_file()

    await remember(store, 30, "new")
    old_ids = await remember(store, 5, "old")
    await store.forget_ids(old_ids[:3])
    second, events = await loaded(store, options(snapshots))
    ready = event(events, "memory_index_ready")
    assert ready["source"] == "snapshot"
    # 32 rows (3 of the 35 new ones were forgotten before this read) and 3 tombstones.
    assert ready["caught_up"] == 32 + 3
    assert await contents(second) == (232, {"old": 202, "new": 30})
    await second.stop()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: (d / CURRENT).unlink(), "missing"),
        (lambda d: _flip_a_byte(_snapshot_file(d, INDEX_FILE)), "corrupt"),
        (lambda d: _snapshot_file(d, INDEX_FILE).write_bytes(b"short"), "corrupt"),
        (lambda d: (d / CURRENT).write_text("snap-gone"), "corrupt"),
    ],
)
async def test_a_damaged_snapshot_is_rebuilt_and_the_log_says_why(
    store: MemoryStore, tmp_path: Path, damage, reason: str
) -> None:
    snapshots = tmp_path / "index"
    await remember(store, 50)
    first, _ = await loaded(store, options(snapshots))
    await first.stop()
    damage(snapshots)
    second, events = await loaded(store, options(snapshots))
    assert event(events, "memory_index_rebuild")["reason"] == reason
    assert event(events, "memory_index_ready")["source"] == "rebuild"
    assert await contents(second) == (50, {"t": 50})
    await second.stop()


async def test_a_snapshot_of_another_database_or_index_type_is_not_used(
    store: MemoryStore, tmp_path: Path
) -> None:
    snapshots = tmp_path / "index"
    await remember(store, 20)
    first, _ = await loaded(store, options(snapshots))
    await first.stop()

    other = SqliteMemoryStore(tmp_path / "other.sqlite3")
    await other.open(DEFAULT_MODEL)
    try:
        await remember(other, 7)
        synced, events = await loaded(other, options(snapshots))
        assert event(events, "memory_index_rebuild")["reason"] == "other_store"
        assert await contents(synced) == (7, {"t": 7})
        await synced.stop()
    finally:
        await other.close()

    synced, events = await loaded(store, IndexOptions(snapshot_dir=snapshots, dtype="f16"))
    assert event(events, "memory_index_rebuild")["reason"] == "incompatible"
    await synced.stop()


async def test_a_snapshot_of_the_other_embedding_model_is_not_used(
    store: MemoryStore, tmp_path: Path
) -> None:
    snapshots = tmp_path / "index"
    await remember(store, 12)
    first, _ = await loaded(store, options(snapshots))
    await first.stop()
    synced, events = await loaded(store, options(snapshots), DYNAMIC_INT8)
    rebuild = event(events, "memory_index_rebuild")
    assert rebuild["reason"] == "incompatible"
    assert DYNAMIC_INT8 in rebuild["detail"], rebuild["detail"]
    assert await contents(synced) == (12, {"t": 12})
    await synced.stop()


async def test_a_snapshot_of_another_graph_shape_is_rebuilt_in_the_configured_one(
    store: MemoryStore, tmp_path: Path
) -> None:
    snapshots = tmp_path / "index"
    await remember(store, 30)
    first, _ = await loaded(store, options(snapshots, connectivity=8))
    await first.stop()
    meta = json.loads(_snapshot_file(snapshots, META_FILE).read_text())
    assert meta["connectivity"] == 8

    synced, events = await loaded(store, options(snapshots, connectivity=12))
    rebuild = event(events, "memory_index_rebuild")
    assert rebuild["reason"] == "incompatible"
    assert "8 links a node" in rebuild["detail"] and "12 links a node" in rebuild["detail"]
    assert synced.index.usearch.connectivity == 12
    assert await contents(synced) == (30, {"t": 30})
    await synced.stop()

    # A snapshot written before the shape was recorded was made with 16 links a node.
    meta = json.loads(_snapshot_file(snapshots, META_FILE).read_text())
    assert meta["connectivity"] == 12
    del meta["connectivity"]
    _snapshot_file(snapshots, META_FILE).write_text(json.dumps(meta))
    for connectivity, reason in ((16, None), (12, "incompatible")):
        synced, events = await loaded(store, options(snapshots, connectivity=connectivity))
        rebuilds = [e for e in events if e["event"] == "memory_index_rebuild"]
        assert [e["reason"] for e in rebuilds] == ([reason] if reason else [])
        await synced.stop()


async def test_tombstones_are_pruned_and_an_older_snapshot_is_then_rebuilt(
    store: MemoryStore, tmp_path: Path
) -> None:
    snapshots = tmp_path / "index"
    ids = await remember(store, 40)
    first, _ = await loaded(store, options(snapshots))
    await first.stop()
    await store.forget_ids(ids[:10])
    assert await store.prune_tombstones(older_than_seconds=3600) == 0
    assert await store.prune_tombstones(older_than_seconds=0) == 10
    info = await store.info()
    assert info.pruned_through > 0
    # The snapshot predates the pruned forgets: it cannot know what they removed.
    second, events = await loaded(store, options(snapshots))
    assert event(events, "memory_index_rebuild")["reason"] == "tombstones_pruned"
    assert await contents(second) == (30, {"t": 30})
    await second.stop()


async def test_a_running_replica_that_missed_pruned_tombstones_rebuilds(
    store: MemoryStore, tmp_path: Path
) -> None:
    ids = await remember(store, 25)
    replica, _ = await loaded(store, options(tmp_path / "index"))
    await store.forget_ids(ids[:5])
    await store.prune_tombstones(older_than_seconds=0)
    with capture_logs() as events:
        assert await contents(replica) == (20, {"t": 20})
    assert event(events, "memory_index_rebuild")["reason"] == "tombstones_pruned"
    await replica.stop()


async def test_the_maintenance_loop_prunes_and_snapshots(
    store: MemoryStore, tmp_path: Path
) -> None:
    snapshots = tmp_path / "index"
    ids = await remember(store, 10)
    opts = options(
        snapshots,
        sync_interval_seconds=0.05,
        tombstone_retention_seconds=0.0,
        snapshot_min_changes=1,
    )
    synced, _ = await loaded(store, opts)
    deadline = asyncio.get_running_loop().time() + 60
    while not (snapshots / CURRENT).exists():
        assert asyncio.get_running_loop().time() < deadline, "no first snapshot in 60 s"
        await asyncio.sleep(0.05)
    first_snapshot = (snapshots / CURRENT).read_text()
    await store.forget_ids(ids[:4])
    while (await store.info()).pruned_through == 0 or (
        snapshots / CURRENT
    ).read_text() == first_snapshot:
        assert asyncio.get_running_loop().time() < deadline, "no prune or snapshot in 60 s"
        await asyncio.sleep(0.05)
    await synced.stop()
    # The new snapshot holds the forgets the pruned tombstones carried.
    again, events = await loaded(store, options(snapshots))
    assert event(events, "memory_index_ready")["source"] == "snapshot"
    assert await contents(again) == (6, {"t": 6})
    await again.stop()


def test_a_write_removes_what_killed_writes_left_once_they_are_old(tmp_path: Path) -> None:
    """A write killed midway (OOM, SIGKILL) left a snapshot's worth of files that nothing
    removed; a young leftover may be another replica's write in progress and stays."""
    snapshots = tmp_path / "index"
    snapshots.mkdir()
    dead, busy = snapshots / ".snap-dead.partial", snapshots / ".snap-busy.partial"
    dead_pointer, busy_pointer = snapshots / ".CURRENT.snap-dead", snapshots / ".CURRENT.snap-busy"
    for folder, pointer in ((dead, dead_pointer), (busy, busy_pointer)):
        folder.mkdir()
        (folder / INDEX_FILE).write_bytes(b"half a graph")
        pointer.write_text(folder.name)
    long_ago = time.time() - 2 * snapshot.LEFTOVER_GRACE_SECONDS
    for path in (dead / INDEX_FILE, dead, dead_pointer, busy):
        os.utime(path, (long_ago, long_ago))
    # `busy`'s directory is as old, but its graph file is being written now.
    with capture_logs() as events:
        written = snapshot.write(
            snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s", mark=ChangeMark()
        )
    assert not dead.exists() and not dead_pointer.exists()
    assert busy.exists() and busy_pointer.exists()
    assert sorted(
        e["path"] for e in events if e["event"] == "memory_snapshot_leftover_removed"
    ) == [
        str(dead_pointer),
        str(dead),
    ]
    assert (snapshots / CURRENT).read_text() == written.name


async def test_a_failed_snapshot_is_retried_after_a_pause_that_doubles(
    store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a failed write (disk full, read-only) the snapshot was tried again every sync
    round, the whole index rewritten every few seconds with changes held back meanwhile."""
    await remember(store, 10)
    tries: list[float] = []
    write = snapshot.write

    def full_disk(*args: object, **kwargs: object) -> Path:
        tries.append(time.monotonic())
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(snapshot, "write", full_disk)
    opts = options(tmp_path / "index", sync_interval_seconds=0.05, snapshot_min_changes=1)
    synced = SyncedIndex(store, opts)
    with capture_logs() as events:
        synced.start()
        await synced.refresh()
        await asyncio.sleep(1.4)
    failed = [e for e in events if e["event"] == "memory_snapshot_failed"]
    # Tries at about 0, 0.1, 0.3, 0.7 s: 28 sync rounds in 1.4 s tried it every time.
    assert 3 <= len(tries) <= 5, len(tries)
    assert len(failed) == len(tries)
    assert [e["retry_in_seconds"] for e in failed[:3]] == [0.1, 0.2, 0.4]
    assert failed[0]["error"] == "[Errno 28] No space left on device"
    monkeypatch.setattr(snapshot, "write", write)
    deadline = asyncio.get_running_loop().time() + 30
    while not (tmp_path / "index" / CURRENT).exists():
        assert asyncio.get_running_loop().time() < deadline, "no snapshot once the disk had room"
        await asyncio.sleep(0.05)
    await synced.stop()


async def test_a_recall_queued_behind_a_snapshot_write_answers_at_once(
    store: MemoryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot waiting for the index's lock (held by a sync) did not count as being written:
    a recall then queued for the lock behind it and waited for the whole write."""
    await remember(store, 20)
    synced, _ = await loaded(store, options(tmp_path / "index"))
    write = snapshot.write

    def slow_write(*args: object, **kwargs: object) -> Path:
        time.sleep(2.0)
        return write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "write", slow_write)
    async with synced._lock:  # a sync in progress
        synced._snapshot_soon()
        await asyncio.sleep(0)  # the snapshot waits for the lock
        recall = asyncio.create_task(synced.refresh())
        await asyncio.sleep(0.05)
    started = time.monotonic()
    index = await recall
    assert time.monotonic() - started < 1.0
    assert len(index) == 20
    await synced.stop()


def test_two_replicas_writing_at_once_leave_a_snapshot_to_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replicas may share MEMORY_INDEX_DIR: each writer removed every snapshot but its own
    after naming it in CURRENT, so two at once left CURRENT naming a removed one, and the
    next start rebuilt the index (16 minutes at a million)."""
    snapshots = tmp_path / "index"
    named = threading.Barrier(2)
    replace = os.replace

    def replace_then_meet(source: Path, target: Path) -> None:
        replace(source, target)
        if Path(target).name == CURRENT:
            named.wait(timeout=30)  # both have named theirs; now both clean up

    monkeypatch.setattr(snapshot.os, "replace", replace_then_meet)
    # Neither writer's snapshot is this process's own to other replicas.
    monkeypatch.setattr(snapshot, "_written_here", set())

    def write_one() -> Path:
        return snapshot.write(
            snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s", mark=ChangeMark()
        )

    with ThreadPoolExecutor(2) as pool:
        written = [w.result(timeout=60) for w in [pool.submit(write_one) for _ in range(2)]]
    assert (snapshots / CURRENT).read_text() in {w.name for w in written}
    meta = snapshot.read(snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s")
    assert meta.count == 0


def test_a_writer_removes_its_own_older_snapshots_at_once_and_others_once_old(
    tmp_path: Path,
) -> None:
    snapshots = tmp_path / "index"
    snapshots.mkdir()
    young, old = snapshots / "snap-another-replica", snapshots / "snap-a-dead-replica"
    for folder in (young, old):
        folder.mkdir()
        (folder / META_FILE).write_text("{}")
    long_ago = time.time() - 2 * snapshot.LEFTOVER_GRACE_SECONDS
    for path in (old / META_FILE, old):
        os.utime(path, (long_ago, long_ago))
    for _ in range(3):
        last = snapshot.write(
            snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s", mark=ChangeMark()
        )
    assert sorted(p.name for p in snapshots.glob("snap-*")) == sorted([last.name, young.name])


def test_a_snapshot_replaced_while_it_is_read_is_read_from_current_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader whose snapshot another replica superseded and removed midway loads the one
    CURRENT names now instead of rebuilding the index."""
    snapshots = tmp_path / "index"
    snapshot.write(snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s", mark=ChangeMark())
    crc32_of = snapshot.crc32_of
    replaced = False

    def replaced_meanwhile(path: Path) -> int:
        nonlocal replaced
        if not replaced:
            replaced = True  # before writing: the write sums its own files
            newer = ChangeMark(added=7, removed=3)
            snapshot.write(snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s", mark=newer)
        return crc32_of(path)

    monkeypatch.setattr(snapshot, "crc32_of", replaced_meanwhile)
    meta = snapshot.read(snapshots, AnnIndex(), model=DEFAULT_MODEL, store_id="s")
    assert replaced and (meta.added, meta.removed) == (7, 3)


class FirstReadFails:
    """A store whose first `changes_since` fails as an outage does; the rest pass through."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.failed = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def changes_since(self, mark: ChangeMark, limit: int) -> Changes:
        if not self.failed:
            self.failed = True
            raise StoreUnavailable(ConnectionRefusedError("connection refused"))
        return await self._store.changes_since(mark, limit=limit)


async def test_an_outage_while_the_index_loads_is_waited_out_and_maintenance_runs(
    store: MemoryStore, tmp_path: Path
) -> None:
    """The load retried only the store's first question: an outage during the catch-up
    left the replica unready for good, and nothing pulled changes or wrote snapshots."""
    await remember(store, 30)
    flaky = FirstReadFails(store)
    opts = options(tmp_path / "index", sync_interval_seconds=0.05)
    synced = SyncedIndex(flaky, opts)  # type: ignore[arg-type]
    said: list[str] = []
    with capture_logs() as events:
        synced.start()
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            try:
                synced.check_ready()
                break
            except NotReady as exc:
                said.append(str(exc))
                assert "failed" not in str(exc), str(exc)
                assert asyncio.get_running_loop().time() < deadline, str(exc)
                await asyncio.sleep(0.05)
    assert flaky.failed
    assert any("memory index waiting for the store: database unavailable" in m for m in said)
    assert "connection refused" in event(events, "memory_index_load_waiting_for_store")["error"]
    assert event(events, "memory_index_ready")["memories"] == 30
    # Only the maintenance loop pulls these: nothing here calls refresh().
    await remember(store, 5)
    while len(synced.index) < 35:
        assert asyncio.get_running_loop().time() < deadline, "the maintenance loop did not sync"
        await asyncio.sleep(0.05)
    await synced.stop()


def _snapshot_file(directory: Path, name: str) -> Path:
    return directory / (directory / CURRENT).read_text() / name


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.postgres
async def test_pruning_and_snapshots_on_postgresql(memory_database: str, tmp_path: Path) -> None:
    store = PostgresMemoryStore(memory_database)
    await store.open(DEFAULT_MODEL)
    try:
        snapshots = tmp_path / "index"
        ids = await remember(store, 25)
        replica, _ = await loaded(store, options(snapshots))
        await store.forget_ids(ids[:5])
        assert await store.prune_tombstones(older_than_seconds=3600) == 0
        assert await store.prune_tombstones(older_than_seconds=0) == 5
        with capture_logs() as events:
            assert await contents(replica) == (20, {"t": 20})
        assert event(events, "memory_index_rebuild")["reason"] == "tombstones_pruned"
        await replica.stop()
        await remember(store, 3, "late")
        again, events = await loaded(store, options(snapshots))
        # The first snapshot predates the pruned forgets.
        assert event(events, "memory_index_rebuild")["reason"] == "tombstones_pruned"
        assert await contents(again) == (23, {"t": 20, "late": 3})
        await again.stop()
    finally:
        await store.close()
