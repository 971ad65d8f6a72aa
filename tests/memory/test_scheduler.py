"""FairQueue: which texts go into each model run."""

from __future__ import annotations

from mcp_memory.scheduler import FairQueue, Share

LONG = 256


def runs_until_empty(queue: FairQueue[str]) -> list[list[Share[str]]]:
    runs = []
    while len(queue):
        runs.append(queue.take_run())
    return runs


def callers(run: list[Share[str]]) -> list[str]:
    return [share.caller for share in run]


def test_a_run_costs_at_most_its_padded_token_budget() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=512, max_rows=32)
    lengths = [LONG, 40, 12, 200, 90, 12, 33, LONG, 7, 120] * 4
    queue.add("big", lengths)
    runs = runs_until_empty(queue)
    served = []
    for (share,) in runs:
        widths = [lengths[i] for i in share.indices]
        assert len(widths) * max(widths) <= 512
        served += share.indices
    assert sorted(served) == list(range(len(lengths)))
    # Shortest first: a run pads to little more than its own texts.
    assert [lengths[i] for i in served] == sorted(lengths)


def test_rows_per_run_are_capped() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=10_000, max_rows=4)
    queue.add("many", [5] * 10)
    assert [len(run[0].indices) for run in runs_until_empty(queue)] == [4, 4, 2]


def test_a_text_longer_than_the_budget_still_gets_a_run_of_its_own() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=100, max_rows=32)
    queue.add("long", [300, 300])
    assert [run[0].indices for run in runs_until_empty(queue)] == [[0], [1]]


def test_a_newcomer_goes_into_the_next_run() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=LONG, max_rows=32)
    queue.add("remember_many", [LONG] * 64)
    assert callers(queue.take_run()) == ["remember_many"]
    queue.add("recall", [9])
    assert callers(queue.take_run()) == ["recall"]
    assert callers(queue.take_run()) == ["remember_many"]


def test_short_texts_of_many_callers_share_a_run() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=LONG, max_rows=32)
    for i in range(30):
        queue.add(f"remember-{i}", [12])
    first, second = runs_until_empty(queue)
    assert callers(first) == [f"remember-{i}" for i in range(LONG // 12)]
    assert callers(second) == [f"remember-{i}" for i in range(LONG // 12, 30)]


def test_large_callers_take_turns() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=2 * LONG, max_rows=32)
    queue.add("a", [LONG] * 6)
    queue.add("b", [LONG] * 2)
    turns = [callers(run) for run in runs_until_empty(queue)]
    assert turns == [["a"], ["b"], ["a"], ["a"]]


def test_a_discarded_caller_leaves_nothing_waiting() -> None:
    queue: FairQueue[str] = FairQueue(tokens_per_run=LONG, max_rows=32)
    queue.add("cancelled", [LONG] * 10)
    queue.add("other", [LONG])
    queue.take_run()
    queue.discard("cancelled")
    assert len(queue) == 1
    assert callers(queue.take_run()) == ["other"]
    assert len(queue) == 0
    assert queue.take_run() == []
