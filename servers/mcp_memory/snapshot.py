"""Index snapshots on disk: the usearch graph, the tags and the change mark they reflect.

Layout of the snapshot directory (MEMORY_INDEX_DIR):

    CURRENT                  the name of the snapshot to load, replaced atomically
    snap-<uuid>/index.usearch
    snap-<uuid>/tags.npz     every tag's keys: names, offsets, keys
    snap-<uuid>/meta.json    format, model, dtype, links a node, store id, mark, count,
                             checksums

A snapshot is written into a fresh directory and only then named in CURRENT, so a
reader never sees half of one. Replicas may share the directory (a ReadWriteMany claim),
so a writer then removes only older snapshots that CURRENT does not name at that moment:
its own at once, another's once LEFTOVER_GRACE_SECONDS old (two writers at once removed
each other's, leaving CURRENT naming neither). A reader whose snapshot went meanwhile
reads CURRENT once more before giving up on snapshots. A write killed midway
(OOM, SIGKILL) leaves `.snap-<uuid>.partial` and `.CURRENT.snap-<uuid>` behind: the next
write removes such leftovers once they are LEFTOVER_GRACE_SECONDS old (younger ones may be
another replica's write in progress, as replicas can share the directory).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import structlog

from mcp_memory.index import AnnIndex
from mcp_memory.store import ChangeMark

FORMAT = 1
CURRENT = "CURRENT"
INDEX_FILE = "index.usearch"
TAGS_FILE = "tags.npz"
META_FILE = "meta.json"
# A write in progress touches its files every few seconds at most a gigabyte apart; an
# hour without a change is a write that died.
LEFTOVER_GRACE_SECONDS = 3600.0

log = structlog.get_logger(__name__)

# The snapshots this process wrote: superseded, they go at once; others' wait out the grace.
_written_here: set[str] = set()

Reason = Literal["missing", "corrupt", "incompatible", "other_store", "tombstones_pruned"]


class SnapshotUnusable(Exception):
    """Why a snapshot cannot be loaded: the index is rebuilt from the store instead."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class SnapshotMeta:
    format: int
    model: str
    dtype: str
    store_id: str
    added: int
    removed: int
    count: int
    index_crc32: int
    tags_crc32: int
    # Snapshots written before the graph's shape was a setting have 16 links a node.
    connectivity: int = 16

    @property
    def mark(self) -> ChangeMark:
        return ChangeMark(added=self.added, removed=self.removed)


def crc32_of(path: Path) -> int:
    crc = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 22):
            crc = zlib.crc32(chunk, crc)
    return crc


def write(directory: Path, index: AnnIndex, *, model: str, store_id: str, mark: ChangeMark) -> Path:
    """Save `index` as the current snapshot; blocking. Returns the snapshot's directory.

    The caller keeps the index from changing meanwhile (the sync waits).
    """
    directory.mkdir(parents=True, exist_ok=True)
    remove_leftovers(directory)
    name = f"snap-{uuid.uuid4().hex}"
    work = directory / f".{name}.partial"
    work.mkdir()
    try:
        index.save(str(work / INDEX_FILE))
        tagged = index.tagged()
        names = list(tagged)
        lengths = np.fromiter((len(tagged[t]) for t in names), dtype=np.int64, count=len(names))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        keys = np.concatenate([tagged[t] for t in names]) if names else np.empty(0, np.uint64)
        with (work / TAGS_FILE).open("wb") as file:
            np.savez(file, names=np.array(names, dtype=np.str_), offsets=offsets, keys=keys)
        meta = SnapshotMeta(
            format=FORMAT,
            model=model,
            dtype=index.dtype,
            store_id=store_id,
            added=mark.added,
            removed=mark.removed,
            count=len(index),
            index_crc32=crc32_of(work / INDEX_FILE),
            tags_crc32=crc32_of(work / TAGS_FILE),
            connectivity=index.connectivity,
        )
        (work / META_FILE).write_text(json.dumps(asdict(meta)))
        final = directory / name
        work.rename(final)
        _written_here.add(name)
        pointer = directory / f".{CURRENT}.{name}"
        pointer.write_text(name)
        os.replace(pointer, directory / CURRENT)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    remove_superseded(directory, keep=name)
    return final


def remove_superseded(
    directory: Path, keep: str, grace_seconds: float = LEFTOVER_GRACE_SECONDS
) -> None:
    """Remove the snapshots CURRENT no longer names but `keep`: this process's at once,
    other replicas' once untouched for `grace_seconds` (one may be about to be named)."""
    cutoff = time.time() - grace_seconds
    for old in directory.glob("snap-*"):
        try:
            if old.name == keep or old.name == _current_name(directory):
                continue
            if old.name not in _written_here and _last_modified(old) >= cutoff:
                continue
        except OSError:
            continue  # removed meanwhile, or CURRENT unreadable: remove nothing now
        shutil.rmtree(old, ignore_errors=True)
        _written_here.discard(old.name)


def _current_name(directory: Path) -> str:
    return (directory / CURRENT).read_text().strip()


def remove_leftovers(directory: Path, grace_seconds: float = LEFTOVER_GRACE_SECONDS) -> None:
    """Remove what killed writes left (`.snap-*.partial`, `.CURRENT.*`) once untouched for
    `grace_seconds`: each is as large as a snapshot, and nothing else ever removed them."""
    cutoff = time.time() - grace_seconds
    for leftover in (*directory.glob(".snap-*.partial"), *directory.glob(f".{CURRENT}.*")):
        try:
            if _last_modified(leftover) >= cutoff:
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        except OSError:
            continue  # gone meanwhile, or another replica's to remove
        log.info("memory_snapshot_leftover_removed", path=str(leftover))


def _last_modified(path: Path) -> float:
    """The latest mtime of `path` and, for a directory, of the files in it: a graph being
    written changes its file, not the directory holding it."""
    latest = path.stat().st_mtime
    if path.is_dir():
        for entry in path.iterdir():
            latest = max(latest, entry.stat().st_mtime)
    return latest


def read(directory: Path, index: AnnIndex, *, model: str, store_id: str) -> SnapshotMeta:
    """Load the current snapshot into `index`; blocking.

    Raises SnapshotUnusable naming why when there is none, it is damaged, or it was
    made by another model, index type or database.
    """
    name = _named_snapshot(directory)
    try:
        return _read_named(directory / name, index, model=model, store_id=store_id)
    except SnapshotUnusable:
        # Another replica may have named a newer snapshot and removed this one meanwhile.
        if (again := _named_snapshot(directory)) == name:
            raise
    return _read_named(directory / again, index, model=model, store_id=store_id)


def _named_snapshot(directory: Path) -> str:
    try:
        return _current_name(directory)
    except FileNotFoundError:
        raise SnapshotUnusable("missing", f"no {CURRENT} file in {directory}") from None
    except OSError as exc:
        raise SnapshotUnusable("corrupt", f"cannot read {directory / CURRENT}: {exc}") from None


def _read_named(folder: Path, index: AnnIndex, *, model: str, store_id: str) -> SnapshotMeta:
    try:
        meta = SnapshotMeta(**json.loads((folder / META_FILE).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise SnapshotUnusable("corrupt", f"{folder / META_FILE}: {exc}") from None
    made = (meta.format, meta.model, meta.dtype, meta.connectivity)
    wanted = (FORMAT, model, index.dtype, index.connectivity)
    if made != wanted:
        raise SnapshotUnusable(
            "incompatible",
            f"made with format {meta.format}, model {meta.model}, dtype {meta.dtype}, "
            f"{meta.connectivity} links a node; this server uses format {FORMAT}, model "
            f"{model}, dtype {index.dtype}, {index.connectivity} links a node",
        )
    if meta.store_id != store_id:
        raise SnapshotUnusable(
            "other_store", f"made from database {meta.store_id}, this one is {store_id}"
        )
    try:
        for file, expected in ((INDEX_FILE, meta.index_crc32), (TAGS_FILE, meta.tags_crc32)):
            if (actual := crc32_of(folder / file)) != expected:
                raise SnapshotUnusable(
                    "corrupt", f"{folder / file} has crc32 {actual}, expected {expected}"
                )
        with np.load(folder / TAGS_FILE) as tags:
            names, offsets, keys = tags["names"], tags["offsets"], tags["keys"]
        tagged = {
            str(tag): keys[offsets[i] : offsets[i + 1]].tolist() for i, tag in enumerate(names)
        }
        index.load(str(folder / INDEX_FILE), tagged)
    except SnapshotUnusable:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise SnapshotUnusable("corrupt", f"{folder}: {exc}") from None
    if len(index) != meta.count:
        raise SnapshotUnusable(
            "corrupt", f"{folder} holds {len(index)} vectors, its meta says {meta.count}"
        )
    return meta
