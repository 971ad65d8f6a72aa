"""MCP_WORKERS=2: one port, two worker processes, metrics summed over both, one drain."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness.jsonrpc import modern_request
from harness.processes import ServerProcess, free_port, server_env
from harness.runtime import SAMPLE_SERVER, StartServer

IN_FLIGHT = "mcp_tool_calls_in_flight"


async def call(server: ServerProcess, tool: str, arguments: dict[str, Any]) -> Any:
    """One tools/call on a connection of its own, so the kernel picks a worker for it."""
    headers, body = modern_request("tools/call", {"name": tool, "arguments": arguments})
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(server.mcp_url, json=body, headers=headers)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result["isError"], result
    return result["structuredContent"]["result"]


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has yet to collect it.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def two_workers(start_server: StartServer) -> ServerProcess:
    server = start_server(env={"MCP_WORKERS": "2"})
    server.wait_ready()
    return server


async def test_calls_spread_over_both_workers_and_metrics_add_up(
    two_workers: ServerProcess,
) -> None:
    # /ready answers once one worker listens; the other may still be starting, and until it
    # binds its socket the kernel gives every connection to the first.
    pids: list[int] = []
    deadline = time.monotonic() + 30
    while len(pids) < 24 or len(set(pids)) < 2:
        assert time.monotonic() < deadline, f"every call reached one worker: {set(pids)}"
        pids.append(await call(two_workers, "process_id", {}))
    assert len(set(pids)) == 2
    assert {parent_of(pid) for pid in pids} == {two_workers.pid}
    # Every scrape sums both workers, whichever of them answers it.
    calls = len(pids)
    for _ in range(6):
        assert two_workers.metric('mcp_tool_calls_total{outcome="ok",tool="process_id"}') == calls
        assert (
            two_workers.metric('mcp_tool_call_duration_seconds_count{tool="process_id"}') == calls
        )
        assert two_workers.metric(IN_FLIGHT) == 0
        assert two_workers.metric('mcp_tool_calls_total{outcome="ok",tool="echo"}') == 0


def start_time(pid: int) -> float:
    """When process PID started, in seconds since the epoch, as prometheus-client reckons it."""
    ticks = float(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    (boot,) = [line for line in Path("/proc/stat").read_text().splitlines() if "btime" in line]
    return ticks / os.sysconf("SC_CLK_TCK") + float(boot.split()[1])


def test_the_start_time_is_the_supervisors_whichever_worker_answers(
    two_workers: ServerProcess,
) -> None:
    # The dashboard counts restarts by changes of process_start_time_seconds: each worker's own
    # start (its fork) would make the series change whenever another worker answered a scrape.
    # (Forked once the app is built, seconds after their supervisor started.)
    workers = Path(f"/proc/{two_workers.pid}/task/{two_workers.pid}/children").read_text()
    supervisor = start_time(two_workers.pid)
    assert supervisor not in {start_time(int(pid)) for pid in workers.split()}
    for _ in range(12):
        assert two_workers.metric("process_start_time_seconds") == pytest.approx(
            supervisor, abs=0.005
        )


async def test_sigterm_drains_every_worker_and_loses_no_call(
    two_workers: ServerProcess, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    calls = [
        asyncio.create_task(call(two_workers, "gated_echo", {"text": f"{n}", "gate": str(gate)}))
        for n in range(8)
    ]
    pids = {await call(two_workers, "process_id", {}) for _ in range(16)}
    await asyncio.to_thread(wait_for, lambda: two_workers.metric(IN_FLIGHT) == 8)
    two_workers.terminate()
    # Both workers are draining: /ready is 503 whichever answers, calls are still served.
    await asyncio.to_thread(wait_for, lambda: two_workers.ready_status() == 503)
    assert await call(two_workers, "echo", {"text": "late"}) == "late"
    gate.touch()
    assert sorted(await asyncio.gather(*calls)) == [f"{n}" for n in range(8)]
    assert await asyncio.to_thread(two_workers.process.wait, 30) == 0
    assert not any(alive(pid) for pid in pids)
    log = two_workers.log_text()
    assert log.count('"drain_finished"') == 2
    assert '"workers_stopped"' in log


def test_workers_die_with_a_killed_parent(two_workers: ServerProcess) -> None:
    children = Path(f"/proc/{two_workers.pid}/task/{two_workers.pid}/children").read_text()
    workers = {int(pid) for pid in children.split()}
    assert len(workers) == 2
    two_workers.kill()
    wait_for(lambda: not any(alive(pid) for pid in workers))


def test_workers_need_a_stateless_server() -> None:
    port = free_port()
    env = server_env(port, {"MCP_WORKERS": "2", "MCP_STATELESS": "false"})
    result = subprocess.run(
        [sys.executable, str(SAMPLE_SERVER)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("MCP_WORKERS=2 needs MCP_STATELESS=true"), result.stderr


# One process names the port as the workers' supervisor does.
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_stops_the_start(workers: str, tmp_path: Path) -> None:
    # A plain listening socket, without SO_REUSEPORT, holds the port.
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env = server_env(holder.getsockname()[1], {"MCP_WORKERS": workers})
        # Where the workers' metrics files go (tempfile honours TMPDIR).
        env["TMPDIR"] = str(tmp_path)
        result = subprocess.run(
            [sys.executable, str(SAMPLE_SERVER)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "MCP_PORT: cannot listen on" in result.stderr
    assert result.stderr.rstrip().endswith("address already in use"), result.stderr
    # The start that failed took its metrics directory with it.
    assert list(tmp_path.iterdir()) == []


# A supervisor whose SIGTERM comes while it forks its first worker (signals are blocked across
# the fork, so it is handled as soon as the fork returns); each worker waits for its SIGTERM
# for 15 s at most and says so if none came.
SIGTERM_DURING_START = """
import os, signal, sys, time
from mcp_runtime import workers

forks = []

def fork():
    pid = os_fork()
    if pid and not forks:
        os.kill(os.getpid(), signal.SIGTERM)
    if pid:
        forks.append(pid)
    return pid

os_fork, workers.os.fork = os.fork, fork

def serve_worker(index):
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    deadline = time.monotonic() + 15
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.05)
    if not stopped:
        print(f"worker {index} was never told to stop", flush=True)

workers.Workers(2, serve_worker, None).run()
print(f"forked {len(forks)}", flush=True)
"""


def test_a_sigterm_while_workers_start_reaches_every_worker_started() -> None:
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", SIGTERM_DURING_START], capture_output=True, text=True, timeout=60
    )
    # The worker forked when the signal came is stopped, and no other one is started.
    assert "never told to stop" not in result.stdout, result.stdout
    assert result.stdout.endswith("forked 1\n"), result.stdout
    assert time.monotonic() - began < 10


# A server with gauges of its own, made as servers make them: in `create`, which the
# supervisor runs before it forks the workers. `mark` sets them as a worker would once loaded.
GAUGES_SERVER = '''
import os

from fastmcp import FastMCP
from prometheus_client import CollectorRegistry, Gauge

from mcp_runtime import RuntimeSettings, ServerSpec, run

mcp = FastMCP("gauges")


def create(_: RuntimeSettings) -> ServerSpec:
    registry = CollectorRegistry()
    loaded = Gauge("gauges_load_seconds", "Seconds the model took to load.", registry=registry)
    up = Gauge("gauges_upstream_up", "1 while it answers.", ["upstream"], registry=registry)
    up.labels(upstream="a").set(0)

    @mcp.tool
    def mark() -> int:
        """Set the gauges; return this worker's pid."""
        loaded.set(2.5)
        up.labels(upstream="a").set(1)
        return os.getpid()

    return ServerSpec(mcp=mcp, collectors=[registry])


run(create, RuntimeSettings)
'''


async def test_a_servers_gauges_are_its_workers_not_the_supervisors(
    start_server: StartServer, tmp_path: Path
) -> None:
    script = tmp_path / "gauges_server.py"
    script.write_text(GAUGES_SERVER)
    server = start_server(env={"MCP_WORKERS": "2"}, command=[sys.executable, str(script)])
    server.wait_ready()
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2:
        assert time.monotonic() < deadline, f"every call reached one worker: {pids}"
        pids.add(await call(server, "mark", {}))
    lines = httpx.get(server.metrics_url, timeout=10).text.splitlines()
    # One series per worker, as prometheus-client serves a gauge of several processes; none
    # of the supervisor, which serves nothing and would say 0 for ever.
    assert sorted(line for line in lines if line.startswith("gauges_")) == sorted(
        [f'gauges_load_seconds{{pid="{pid}"}} 2.5' for pid in pids]
        + [f'gauges_upstream_up{{pid="{pid}",upstream="a"}} 1.0' for pid in pids]
    )
    assert [line.rsplit(" ", 1)[1] for line in lines if line.startswith("mcp_build_info{")] == [
        "1.0"
    ]
