"""Trivial tool calls through the bridge: a stdio server behind `mcp-bridge` against the
runtime's own sample server, both answering `echo` on one uvicorn worker.

The bridged server is the tests' fake stdio server (standard library only, so its own cost
is small); CPU ms/call counts the bridge and its child together. Same load generator as
bench/servers.py (raw JSON-RPC POSTs, one keep-alive connection per session).

    uv run python bench/bridge.py        (BENCH_SECONDS=4 per cell by default)
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from harness.processes import ServerProcess

from servers import PROTOCOLS, measure


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


@dataclass
class Measured:
    """What bench/servers.py's `measure` needs of a server: its port and its CPU time, here the
    process and its children (the bridge's stdio server)."""

    port: int
    pid: int

    def cpu_seconds(self) -> float:
        return _cpu_seconds([self.pid, *_children(self.pid)])


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
                    measured = Measured(server.port, server.pid)
                    cell = asyncio.run(
                        measure(measured, protocol, sessions, seconds, ("echo", {"text": "ping"}))
                    ).cell()
                    print(
                        f"{protocol:14} {sessions:>8} {name:8} "
                        f"{cell.calls_per_second:>8.0f} {cell.p50_ms:>7.1f} {cell.p95_ms:>7.1f} "
                        f"{cell.server_cpu_ms_per_call:>11.2f} {cell.errors:>6}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
