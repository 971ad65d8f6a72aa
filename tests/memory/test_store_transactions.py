"""A write stores all of its memories or none of them, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from mcp_memory.embedder import DIMENSIONS
from mcp_memory.models import StoredMemory
from mcp_memory.store import ChangeMark, MemoryStore


def memories(n: int) -> list[StoredMemory]:
    now = datetime.now(UTC)
    return [StoredMemory(id=uuid.uuid4().hex, text=f"memory {i}", created_at=now) for i in range(n)]


def vectors(n: int) -> np.ndarray:
    return np.ones((n, DIMENSIONS), dtype=np.float32)


async def stored_ids(store: MemoryStore) -> list[str]:
    changes = await store.changes_since(ChangeMark())
    fetched = await store.fetch(changes.keys.tolist())
    ids = {key: fetched.recalled(i, 0.0).id for i, key in enumerate(fetched.keys)}
    return [ids[key] for key in changes.keys.tolist()]


async def test_a_write_failing_midway_stores_none_of_it(each_store: MemoryStore) -> None:
    (first,) = memories(1)
    await each_store.insert([first], vectors(1))
    # The third row repeats an id, so the database refuses it after taking two rows.
    failing = [*memories(2), first, *memories(2)]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await each_store.insert(failing, vectors(len(failing)))
    (later,) = memories(1)
    # The next write must not commit what the failed one left behind.
    await each_store.insert([later], vectors(1))
    assert await stored_ids(each_store) == [first.id, later.id]


async def test_a_cancelled_write_stores_all_of_it_or_none(each_store: MemoryStore) -> None:
    batch = memories(64)
    writing = asyncio.create_task(each_store.insert(batch, vectors(len(batch))))
    await asyncio.sleep(0)
    writing.cancel()
    await asyncio.gather(writing, return_exceptions=True)
    (later,) = memories(1)
    await each_store.insert([later], vectors(1))
    ids = await stored_ids(each_store)
    assert ids in ([later.id], [m.id for m in batch] + [later.id])
