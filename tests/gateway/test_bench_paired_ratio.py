"""`bench/servers.py` takes a ratio of two loads round by round: a slow slice of one load
moves one round's ratio, not the median, and each round's cells are kept for it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bench_peers import bench, echo_upstream


def cpu(ms: float) -> Any:
    return bench.Cell(
        calls_per_second=1000,
        p50_ms=1,
        p95_ms=1,
        p99_ms=1,
        server_cpu_ms_per_call=ms,
        client_cpu_ms_per_call=0.1,
        errors=0,
        first_error="",
    )


def test_the_ratio_is_the_median_of_the_rounds_ratios() -> None:
    rounds = [
        {"echo": cpu(0.30), "task": cpu(0.36)},
        {"echo": cpu(0.30), "task": cpu(0.60)},  # a slice the machine slowed
        {"echo": cpu(0.40), "task": cpu(0.46)},
    ]
    median, lowest, highest = bench.paired_ratio(rounds, "echo", "task")
    assert (median, lowest, highest) == pytest.approx((1.2, 1.15, 2.0))


@pytest.fixture(scope="module")
def echo_server() -> Iterator[Any]:
    with echo_upstream() as server:
        yield server


def test_side_by_side_keeps_each_rounds_cells(echo_server: Any) -> None:
    per_round: list[dict[str, Any]] = []
    loads = {"a": (echo_server, bench.ECHO), "b": (echo_server, bench.ECHO)}
    cells = bench.side_by_side(loads, "2026-07-28", 2, 0.6, 3, per_round=per_round)
    assert len(per_round) == 3
    assert all(set(cells_of_round) == {"a", "b"} for cells_of_round in per_round)
    assert all(c.server_cpu_ms_per_call > 0 for r in per_round for c in r.values())
    # The table's cell is the rounds' slices together: its CPU per call lies among theirs.
    rounds_cpu = [r["a"].server_cpu_ms_per_call for r in per_round]
    assert min(rounds_cpu) <= cells["a"].server_cpu_ms_per_call <= max(rounds_cpu)
