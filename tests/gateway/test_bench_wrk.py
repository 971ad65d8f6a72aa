"""`bench/servers.py`'s wrk load: the same sessions' calls, each with an id of its own, and an
answer that is not a tool's result counts as a failed call, not as a call made."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from bench_peers import bench, echo_upstream
from wrk_load import WrkMissing, lua_string, run_wrk


@pytest.fixture(scope="module")
def echo_server() -> Iterator[Any]:
    with echo_upstream() as server:
        yield server


@pytest.mark.parametrize("protocol", ["2026-07-28", "2025-11-25"])
def test_wrk_calls_the_tool_in_every_session_and_reports_latency_quantiles(
    echo_server: Any, protocol: str
) -> None:
    samples = asyncio.run(bench.measure_with_wrk(echo_server, protocol, 10, 1, bench.ECHO))
    assert samples.errors == []
    assert samples.calls > 10
    assert samples.server_cpu > 0 and samples.client_cpu > 0
    assert len(samples.latencies) == 100
    assert samples.latencies == sorted(samples.latencies) and samples.latencies[0] > 0


def test_a_tool_error_counts_as_a_failed_call(echo_server: Any) -> None:
    samples = asyncio.run(bench.measure_with_wrk(echo_server, "2025-11-25", 2, 1, ("echo", {})))
    assert samples.calls == 0
    assert samples.errors and "Missing required argument" in samples.errors[0]


def test_a_lua_string_keeps_any_text_as_it_is() -> None:
    assert lua_string("a]]b") == "[=[a]]b]=]"
    assert lua_string("x]=]y") == "[==[x]=]y]==]"


def test_without_wrk_the_bench_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(WrkMissing, match=r"wrk is not installed: `apt-get install wrk`"):
        run_wrk(1, [], 1, 1)
