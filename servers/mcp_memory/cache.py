"""Keeps one replica's vector index equal to the database by pulling changes before use."""

import asyncio

from mcp_memory.index import VectorIndex
from mcp_memory.store import ChangeMark, MemoryStore


class SyncedIndex:
    """A VectorIndex plus the change mark up to which it reflects the store.

    `refresh` costs two indexed queries when nothing changed, so recall can call it
    every time and see what other replicas remembered or forgot a moment ago.
    """

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._mark = ChangeMark()
        self._lock = asyncio.Lock()
        self.index = VectorIndex()

    async def refresh(self) -> VectorIndex:
        async with self._lock:
            changes = await self._store.changes_since(self._mark)
            self.index.add(changes.added, changes.vectors)
            self.index.remove(changes.removed)
            self._mark = changes.mark
        return self.index
