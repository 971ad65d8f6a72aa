"""Trivial tool calls through the bridge: a stdio server behind `mcp-bridge` against the
runtime's own sample server, both answering `echo` on one uvicorn worker.

The bridged server is the tests' fake stdio server (standard library only, so its own cost
is small); CPU ms/call counts the bridge and its child together. Same load generator as
bench/runtime_calls.py (raw JSON-RPC POSTs, one keep-alive connection per session).

    uv run python bench/bridge.py        (BENCH_SECONDS=4 per cell by default)
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from runtime_calls import measure

from servers import PROTOCOLS

# The process harness lives with the tests, which are not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness.processes import ServerProcess


def _cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids.extend(int(child) for child in (task / "children").read_text().split())
    return pids


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    seconds = float(os.environ.get("BENCH_SECONDS", "4"))
    fake = repo / "tests" / "bridge" / "fake_stdio_server.py"
    servers = {
        "bridge": ServerProcess(
            [sys.executable, "-m", "mcp_bridge", "--", sys.executable, str(fake)]
        ),
        "runtime": ServerProcess(
            [sys.executable, str(repo / "tests" / "runtime" / "sample_server.py")]
        ),
    }
    print("Trivial `echo` calls: a stdio server behind the bridge vs a server on the runtime.")
    print("CPU ms/call is the server's CPU time per call, the bridge's child included.")
    print(
        f"{'protocol':14} {'sessions':>8} {'server':8} {'calls/s':>8} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'cpu ms/call':>11} {'errors':>6}"
    )
    with ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server).wait_ready()
        for protocol in PROTOCOLS:
            for sessions in (1, 10):
                # Alternate the two servers so that both see the same machine load.
                for name, server in servers.items():
                    pids = [server.pid, *_children(server.pid)]
                    before = _cpu_seconds(pids)
                    result = asyncio.run(measure(server.port, sessions, seconds, protocol))
                    cpu_ms = (_cpu_seconds(pids) - before) * 1000 / max(result.calls, 1)
                    print(
                        f"{protocol:14} {sessions:>8} {name:8} "
                        f"{result.calls_per_second:>8.0f} {result.percentile_ms(50):>7.1f} "
                        f"{result.percentile_ms(95):>7.1f} {cpu_ms:>11.2f} {result.errors:>6}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
