"""Shares the model between concurrent callers: small runs, taken in turns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np

from mcp_memory.embedder import MAX_TOKENS, TokenIds
from mcp_memory.scheduler import FairQueue, Share

# Callers that overlapped this recently make the server busy: its short runs then take one
# thread each, leaving the other cores to the rest of those callers' calls (their searches,
# their HTTP). A lone caller's runs take every thread, the quickest answer when nothing waits.
BUSY_SECONDS = 0.1
# A run of this many padded tokens (one text of the model's full length) takes every thread
# even when busy: over its length a second thread costs next to no CPU, and a recall may be
# waiting behind it.
SPREAD_TOKENS = MAX_TOKENS


class EmbedTokens(Protocol):
    def __call__(self, batch: Sequence[TokenIds], *, spread: bool) -> np.ndarray: ...


@dataclass(eq=False)
class _Request:
    tokens: list[TokenIds]
    done: asyncio.Future[np.ndarray]
    vectors: np.ndarray | None = None
    filled: int = 0


class EmbeddingBatcher:
    """Embeds the texts of concurrent callers in runs of bounded cost, fairly.

    No timer: while one run goes in the worker thread, new requests wait and go into
    the next, so a lone caller pays no added latency and a burst of callers fills
    runs. A large call is cut into many runs and other callers take turns with it
    (see FairQueue). One run at a time: it uses every core, or one while the server is
    busy (`BUSY_SECONDS`). With `runs_at_once` above 1 (a bulk import, where no recall
    waits), that many runs go at once, each on one thread: on two cores two one-thread
    runs of 512 tokens embed 1.1-1.2x the texts a second of one run on both threads
    (bench/memory.py's bulk import).
    """

    def __init__(
        self,
        tokenize: Callable[[list[str]], list[TokenIds]],
        embed_tokens: EmbedTokens,
        *,
        tokens_per_run: int,
        max_texts_per_run: int,
        on_run: Callable[[int, float], None],
        on_waiting: Callable[[int], None],
        runs_at_once: int = 1,
    ) -> None:
        if runs_at_once < 1:
            raise ValueError(f"runs_at_once: must be at least 1, got {runs_at_once}")
        self._tokenize = tokenize
        self._embed_tokens = embed_tokens
        self._on_run = on_run
        self._on_waiting = on_waiting
        self._queue: FairQueue[_Request] = FairQueue(
            tokens_per_run=tokens_per_run, max_rows=max_texts_per_run
        )
        self._work = asyncio.Event()
        self._runs_at_once = runs_at_once
        self._executor = ThreadPoolExecutor(max_workers=runs_at_once, thread_name_prefix="embed")
        self._workers: list[asyncio.Task[None]] = []
        self._callers = 0
        self._overlapped_at = -BUSY_SECONDS

    def start(self) -> None:
        # Each worker takes a run, waits for it to end, and takes the next.
        self._workers = [
            asyncio.create_task(self._run(), name=f"embedding-batcher-{n}")
            for n in range(self._runs_at_once)
        ]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, one row each, in order."""
        if not texts:
            raise ValueError("no texts to embed")
        loop = asyncio.get_running_loop()
        self._callers += 1
        try:
            if self._callers > 1:
                self._overlapped_at = loop.time()
            # Off the event loop, and outside the model's thread so it never waits behind a run.
            tokens = await asyncio.to_thread(self._tokenize, texts)
            request = _Request(tokens, loop.create_future())
            self._queue.add(request, [len(ids) for ids in tokens])
            self._changed()
            try:
                return await request.done
            finally:
                # Cancelled or failed: none of its texts may take up a run after this.
                self._queue.discard(request)
                self._changed()
        finally:
            self._callers -= 1

    def _changed(self) -> None:
        self._on_waiting(len(self._queue))
        if len(self._queue):
            self._work.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._work.wait()
            shares = self._queue.take_run()
            self._changed()
            if not shares:
                self._work.clear()
                continue
            batch = [share.caller.tokens[i] for share in shares for i in share.indices]
            started = loop.time()
            run = partial(self._embed_tokens, batch, spread=self._spread(batch, started))
            try:
                vectors = await loop.run_in_executor(self._executor, run)
            except Exception as exc:
                for share in shares:
                    # Its caller discards it as well, but only when it next gets to run,
                    # which may be after the next run has been taken.
                    self._queue.discard(share.caller)
                    if not share.caller.done.done():
                        share.caller.done.set_exception(exc)
                self._changed()
                continue
            self._on_run(len(batch), loop.time() - started)
            _deliver(shares, vectors)

    def _spread(self, batch: list[TokenIds], now: float) -> bool:
        """Whether a run takes every thread (see the class docstring)."""
        if self._runs_at_once > 1:
            return False
        busy = self._callers > 1 or now - self._overlapped_at < BUSY_SECONDS
        padded = len(batch) * max(len(ids) for ids in batch)
        return padded >= SPREAD_TOKENS or not busy


def _deliver(shares: list[Share[_Request]], vectors: np.ndarray) -> None:
    offset = 0
    for share in shares:
        request, rows = share.caller, vectors[offset : offset + len(share.indices)]
        offset += len(share.indices)
        if request.done.done():
            continue
        if request.vectors is None:
            request.vectors = np.empty((len(request.tokens), vectors.shape[1]), vectors.dtype)
        request.vectors[share.indices] = rows
        request.filled += len(share.indices)
        if request.filled == len(request.tokens):
            request.done.set_result(request.vectors)
