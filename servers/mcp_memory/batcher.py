"""Micro-batching: concurrent embedding requests share one model run in one worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


@dataclass
class _Request:
    texts: list[str]
    done: asyncio.Future[np.ndarray] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EmbeddingBatcher:
    """Queues texts from concurrent callers and embeds them together.

    No timer: while one batch runs in the worker thread, new requests pile up and go
    into the next batch, so a lone caller pays no added latency and a burst of callers
    fills batches. One thread, because the model already uses every core per run.
    """

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray],
        *,
        max_texts_per_run: int,
        on_run: Callable[[int, float], None],
    ) -> None:
        self._embed = embed
        self._max_texts = max_texts_per_run
        self._on_run = on_run
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="embedding-batcher")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for `texts`, one row each, in order."""
        request = _Request(texts)
        await self._queue.put(request)
        return await request.done

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0].texts)
            while size < self._max_texts and not self._queue.empty():
                request = self._queue.get_nowait()
                batch.append(request)
                size += len(request.texts)
            live = [r for r in batch if not r.done.cancelled()]
            if not live:
                continue
            texts = [text for r in live for text in r.texts]
            started = loop.time()
            try:
                vectors = await loop.run_in_executor(self._executor, self._embed, texts)
            except Exception as exc:
                for request in live:
                    if not request.done.done():
                        request.done.set_exception(exc)
                continue
            self._on_run(len(texts), loop.time() - started)
            offset = 0
            for request in live:
                end = offset + len(request.texts)
                if not request.done.done():
                    request.done.set_result(vectors[offset:end])
                offset = end
