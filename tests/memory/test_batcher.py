"""EmbeddingBatcher with a stand-in model whose runs the test lets finish one by one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import mcp_memory.batcher
import numpy as np
import pytest
from mcp_memory.batcher import EmbeddingBatcher

LONG = 256


def text(caller: int, tokens: int) -> str:
    return f"{caller}:{tokens}"


def tokenize(texts: list[str]) -> list[np.ndarray]:
    """A text "c:n" is n tokens, each the number c: runs show whose texts they hold."""
    return [np.full(int(t.split(":")[1]), int(t.split(":")[0])) for t in texts]


class GatedModel:
    """Each run records whose texts it holds, then waits for the test to let it end."""

    def __init__(self) -> None:
        self.runs: list[list[int]] = []
        # Whether each run was to use every thread.
        self.spread: list[bool] = []
        # What the batcher reported waiting, each time it changed.
        self.waiting: list[int] = []
        self.fail_next = False
        self._gate = threading.Semaphore(0)

    def embed_tokens(self, batch: Sequence[np.ndarray], *, spread: bool) -> np.ndarray:
        self.spread.append(spread)
        self.runs.append([int(ids[0]) for ids in batch])
        if not self._gate.acquire(timeout=30):
            raise TimeoutError("the test never let this run end")
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("out of memory")
        return np.array([[ids[0], len(ids)] for ids in batch], dtype=np.float32)

    async def run_started(self, count: int) -> None:
        async with asyncio.timeout(30):
            while len(self.runs) < count:
                await asyncio.sleep(0.001)

    async def until_waiting(self, texts: int) -> None:
        async with asyncio.timeout(30):
            while not self.waiting or self.waiting[-1] != texts:
                await asyncio.sleep(0.001)

    def finish_run(self) -> None:
        self._gate.release()


@pytest.fixture
def model() -> GatedModel:
    return GatedModel()


def new_batcher(model: GatedModel, runs_at_once: int = 1) -> EmbeddingBatcher:
    return EmbeddingBatcher(
        tokenize,
        model.embed_tokens,
        tokens_per_run=LONG,
        max_texts_per_run=32,
        on_run=lambda texts, seconds: None,
        on_waiting=model.waiting.append,
        runs_at_once=runs_at_once,
    )


@asynccontextmanager
async def running(model: GatedModel, runs_at_once: int = 1) -> AsyncIterator[EmbeddingBatcher]:
    started = new_batcher(model, runs_at_once)
    started.start()
    try:
        yield started
    finally:
        # Lets any run still waiting end, so stop() does not wait on the gate.
        for _ in range(100):
            model.finish_run()
        await started.stop()


@pytest.fixture
async def batcher(model: GatedModel) -> AsyncIterator[EmbeddingBatcher]:
    async with running(model) as started:
        yield started


async def test_a_small_call_is_embedded_after_the_run_in_progress(
    batcher: EmbeddingBatcher, model: GatedModel
) -> None:
    big = asyncio.create_task(batcher.embed([text(1, LONG)] * 8))
    await model.run_started(1)
    small = asyncio.create_task(batcher.embed([text(2, 9)]))
    await model.until_waiting(8)
    model.finish_run()
    await model.run_started(2)
    model.finish_run()
    vectors = await small
    assert vectors.tolist() == [[2.0, 9.0]]
    assert model.runs[:2] == [[1], [2]]
    assert not big.done()
    for _ in range(7):
        model.finish_run()
    assert (await big).tolist() == [[1.0, LONG]] * 8
    assert model.runs == [[1], [2]] + [[1]] * 7


async def test_vectors_come_back_in_the_callers_order_across_runs(
    batcher: EmbeddingBatcher, model: GatedModel
) -> None:
    lengths = [LONG, 3, 100, 40, LONG, 7]
    for _ in lengths:
        model.finish_run()
    vectors = await batcher.embed([text(i, n) for i, n in enumerate(lengths)])
    assert vectors.tolist() == [[i, n] for i, n in enumerate(lengths)]
    # Shortest first, each run within the budget.
    assert model.runs == [[1, 5, 3], [2], [0], [4]]


async def test_a_cancelled_call_leaves_no_work_waiting(
    batcher: EmbeddingBatcher, model: GatedModel
) -> None:
    cancelled = asyncio.create_task(batcher.embed([text(1, LONG)] * 10))
    await model.run_started(1)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert model.waiting[-1] == 0
    other = asyncio.create_task(batcher.embed([text(2, 5)]))
    model.finish_run()
    await model.run_started(2)
    model.finish_run()
    await other
    assert model.runs == [[1], [2]]


async def test_a_failed_run_fails_its_callers_and_no_one_else(
    batcher: EmbeddingBatcher, model: GatedModel
) -> None:
    failing = asyncio.create_task(batcher.embed([text(1, LONG)] * 3))
    await model.run_started(1)
    other = asyncio.create_task(batcher.embed([text(2, LONG)]))
    model.fail_next = True
    model.finish_run()
    with pytest.raises(RuntimeError, match="out of memory"):
        await failing
    await model.run_started(2)
    model.finish_run()
    assert (await other).tolist() == [[2.0, LONG]]
    # The failed call's other two texts never went into a run.
    assert model.runs == [[1], [2]]
    assert model.waiting[-1] == 0


async def test_a_lone_caller_gets_every_thread_and_overlapping_callers_one_each(
    batcher: EmbeddingBatcher, model: GatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that a loaded machine's thread hand-offs between the overlap and the next
    # run cannot outlast it; the module reads it at each run.
    busy_seconds = 1.0
    monkeypatch.setattr(mcp_memory.batcher, "BUSY_SECONDS", busy_seconds)
    model.finish_run()
    await batcher.embed([text(1, 5)])
    first = asyncio.create_task(batcher.embed([text(2, 9)]))
    await model.run_started(2)
    second = asyncio.create_task(batcher.embed([text(3, 5)]))
    await model.until_waiting(1)
    # A run of a full-length text is spread however busy.
    third = asyncio.create_task(batcher.embed([text(6, LONG)]))
    await model.until_waiting(2)
    model.finish_run()
    await model.run_started(3)
    model.finish_run()
    await model.run_started(4)
    model.finish_run()
    await asyncio.gather(first, second, third)
    # The second caller came while the first one's run went: that run had started spread.
    assert model.runs[1:] == [[2], [3], [6]]
    assert model.spread == [True, True, False, True]
    # Busy stays busy for a moment after the overlap, then a lone caller spreads again.
    model.finish_run()
    await batcher.embed([text(4, 5)])
    await asyncio.sleep(busy_seconds)
    model.finish_run()
    await batcher.embed([text(5, 5)])
    assert model.spread[4:] == [False, True]


async def test_runs_at_once_go_together_each_on_one_thread(model: GatedModel) -> None:
    async with running(model, runs_at_once=2) as batcher:
        lengths = [LONG, 3, LONG, LONG]
        call = asyncio.create_task(batcher.embed([text(i, n) for i, n in enumerate(lengths)]))
        await model.run_started(2)
        # Two runs went before either ended; the third waits for one of them.
        await model.until_waiting(2)
        await asyncio.sleep(0.05)
        assert len(model.runs) == 2
        for _ in lengths:
            model.finish_run()
        vectors = await call
        assert vectors.tolist() == [[i, n] for i, n in enumerate(lengths)]
        assert sorted(model.runs) == [[0], [1], [2], [3]]
        assert model.spread == [False] * 4


def test_runs_at_once_must_be_at_least_one(model: GatedModel) -> None:
    with pytest.raises(ValueError, match="runs_at_once: must be at least 1, got 0"):
        new_batcher(model, runs_at_once=0)
