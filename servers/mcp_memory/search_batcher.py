"""Index searches that arrive together run as one usearch batch search, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mcp_memory.index import AnnIndex

Hits = list[tuple[int, float]]


@dataclass
class _Search:
    index: AnnIndex
    query: np.ndarray
    k: int
    tags: Sequence[str]
    future: asyncio.Future[Hits] = field(repr=False)


class SearchBatcher:
    """Runs `AnnIndex.search` for concurrent recalls together.

    Concurrent recalls are embedded in one model run (the embedding batcher serves its
    callers together), so they reach their searches in the same turn of the event loop.
    One after another on the loop, those searches (3 to 6 ms each at a million) would hold
    it while the other cores wait; usearch's batch search gives each thread its own search
    state and spreads them over `threads`. A search alone runs on the loop as before: a
    thread would only add its hop.
    """

    def __init__(self, threads: int) -> None:
        self._threads = threads
        self._waiting: list[_Search] = []
        self._running: set[asyncio.Task[None]] = set()

    async def search(self, index: AnnIndex, query: np.ndarray, k: int, tags: Sequence[str]) -> Hits:
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._start)
        search = _Search(index, query, k, tags, loop.create_future())
        self._waiting.append(search)
        return await search.future

    def _start(self) -> None:
        searches, self._waiting = self._waiting, []
        if len(searches) == 1 and not self._running:
            # Inline, unless a batch holds the index: its lock would stall the loop.
            _settle(searches, _search_each(searches, self._threads))
            return
        task = asyncio.create_task(self._in_thread(searches))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _in_thread(self, searches: list[_Search]) -> None:
        try:
            found: list[Hits | BaseException] = await asyncio.to_thread(
                _search_each, searches, self._threads
            )
        except asyncio.CancelledError:
            for search in searches:
                search.future.cancel()
            raise
        except Exception as error:
            found = [error] * len(searches)
        _settle(searches, found)


def _search_each(searches: list[_Search], threads: int) -> list[Hits | BaseException]:
    """Each search's hits, or what it raised; untagged searches of one index as one batch."""
    found: list[Hits | BaseException] = [[] for _ in searches]
    untagged: dict[int, list[int]] = {}
    for i, search in enumerate(searches):
        if search.tags:
            try:
                found[i] = search.index.search(search.query, search.k, search.tags)
            except Exception as error:
                found[i] = error
        else:
            untagged.setdefault(id(search.index), []).append(i)
    for rows in untagged.values():
        index = searches[rows[0]].index
        k = max(searches[i].k for i in rows)
        queries = np.stack([searches[i].query for i in rows])
        hits: list[Hits] | list[Exception]
        try:
            hits = index.search_many(queries, k, threads)
        except Exception as error:
            hits = [error] * len(rows)
        for i, one in zip(rows, hits, strict=True):
            found[i] = one[: searches[i].k] if isinstance(one, list) else one
    return found


def _settle(searches: list[_Search], found: list[Hits | BaseException]) -> None:
    for search, result in zip(searches, found, strict=True):
        if search.future.done():  # the caller went away
            continue
        if isinstance(result, BaseException):
            search.future.set_exception(result)
        else:
            search.future.set_result(result)
