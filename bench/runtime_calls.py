"""Trivial tool calls/s and latency over N concurrent sessions: the runtime's sample server
against a stock FastMCP app serving the same `echo` tool.

Both get the same load generator as bench/servers.py (raw JSON-RPC POSTs over one bare
keep-alive connection per session, cheaper than any MCP client library, so that the client
does not cap either server on a small machine); the two servers alternate cell by cell.

    uv run python bench/runtime_calls.py        (BENCH_SECONDS=4 per cell by default)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from servers import PROTOCOLS, Session

# The process harness lives with the tests, which are not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness.processes import ServerProcess, free_port


@dataclass(frozen=True)
class LoadResult:
    sessions: int
    calls: int
    errors: int
    seconds: float
    latencies_ms: tuple[float, ...]

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds

    def percentile_ms(self, percent: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100)[percent - 1]


async def measure(port: int, sessions: int, seconds: float, protocol: str) -> LoadResult:
    """Call `echo` in a loop from `sessions` concurrent sessions of `protocol` for `seconds`."""
    opened = [Session(port, protocol) for _ in range(sessions)]
    await asyncio.gather(*(session.open() for session in opened))
    latencies: list[float] = []
    errors = 0
    # One untimed call per session warms imports and caches on the server.
    await asyncio.gather(*(session.call_tool("echo", {"text": "ping"}) for session in opened))
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(session: Session) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            before = time.perf_counter()
            try:
                result = await session.call_tool("echo", {"text": "ping"})
            except (OSError, asyncio.IncompleteReadError, RuntimeError):
                errors += 1
                return
            if result.get("isError"):
                errors += 1
                continue
            latencies.append((time.perf_counter() - before) * 1000)

    await asyncio.gather(*(loop(session) for session in opened))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(session.close() for session in opened))
    return LoadResult(sessions, len(latencies), errors, elapsed, tuple(latencies))


STOCK_SERVER = '''
import sys
from fastmcp import FastMCP

mcp = FastMCP("stock")


@mcp.tool
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False)
'''


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    seconds = float(os.environ.get("BENCH_SECONDS", "4"))
    stock_port = free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        stock_file = Path(tmp) / "stock.py"
        stock_file.write_text(STOCK_SERVER)
        servers = {
            "runtime": ServerProcess(
                [sys.executable, str(repo / "tests" / "runtime" / "sample_server.py")]
            ),
            "stock": ServerProcess(
                [sys.executable, str(stock_file), str(stock_port)], port=stock_port
            ),
        }
        print("Trivial `echo` calls on one uvicorn worker: shared runtime vs stock FastMCP.")
        print("server CPU ms/call is the server process's CPU time per call (robust to load).")
        print(
            f"{'protocol':14} {'sessions':>8} {'server':8} {'calls/s':>8} {'p50 ms':>7} "
            f"{'p95 ms':>7} {'cpu ms/call':>11} {'errors':>6}"
        )
        for server in servers.values():
            # The stock app has no /health: any answer from /mcp counts as up.
            stack.enter_context(server).wait_until_answering("/mcp")
        for protocol in PROTOCOLS:
            for sessions in (1, 10, 100):
                # Alternate the two servers so that both see the same machine load.
                for name, server in servers.items():
                    before = _cpu_seconds(server.pid)
                    result = asyncio.run(measure(server.port, sessions, seconds, protocol))
                    cpu_ms = (_cpu_seconds(server.pid) - before) * 1000 / max(result.calls, 1)
                    print(
                        f"{protocol:14} {sessions:>8} {name:8} "
                        f"{result.calls_per_second:>8.0f} {result.percentile_ms(50):>7.1f} "
                        f"{result.percentile_ms(95):>7.1f} {cpu_ms:>11.2f} {result.errors:>6}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
