"""`bench/servers.py`'s open loop starts calls on schedule and charges a late answer's wait.

`bench/gateway.py` reads its fixed-rate table as what a front adds on a machine that is not
saturated, so the loop must keep the rate it is given, and a server that falls behind must
show in the latencies rather than slow the schedule down (coordinated omission).
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator
from typing import Any

import pytest
from bench_peers import bench, echo_upstream


@pytest.fixture(scope="module")
def echo_server() -> Iterator[Any]:
    with echo_upstream() as server:
        yield server


@pytest.mark.parametrize("protocol", ["2026-07-28", "2025-11-25"])
def test_every_scheduled_call_is_made_and_none_early(echo_server: Any, protocol: str) -> None:
    samples = asyncio.run(bench.measure_at_rate(echo_server, protocol, 50, 1.0, bench.ECHO))
    assert samples.errors == []
    assert len(samples.latencies) == 50
    # The last call is due 0.98 s after the first: a loop that sent as fast as it could
    # would be done in a small part of that.
    assert samples.seconds >= 0.98


def test_a_server_behind_schedule_is_charged_for_the_wait(echo_server: Any) -> None:
    # 1,000 calls due within 10 ms over one session, which answers one at a time: the calls
    # queue, and a call's latency grows with its place in the queue, the median call waiting
    # for about half of the run. Measured from when the session took each call, as a closed
    # loop would, a latency would be one call's time: the run's time over 1,000 on average,
    # and a median of at most twice that, however long the machine stalls in the run.
    samples = asyncio.run(
        bench.measure_at_rate(echo_server, "2026-07-28", 100_000, 0.01, bench.ECHO, sessions=1)
    )
    assert samples.errors == [] and len(samples.latencies) == 1000
    one_call = samples.seconds / len(samples.latencies)
    assert statistics.median(samples.latencies) > 20 * one_call
