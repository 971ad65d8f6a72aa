"""What serving a stdio MCP server over streamable HTTP costs per call: `mcp-bridge` against
supergateway (the bridge people use today), with the stdio server called directly as the floor.

One stdio server at a time, answering a trivial tool (`echo`): the tests' fake stdio server
(standard library only, so its own cost is small) and npm's server-everything (Node), each
called three ways side by side:
- bridge: `mcp-bridge -- CMD`, as shipped (one uvicorn worker, stateless, one child);
- supergateway 4.0.0: `supergateway --stdio CMD --outputTransport streamableHttp --stateful`.
  Stateful is its only mode with long-lived children, one per client session: stateless
  starts a child for every HTTP request, and so does every 2026-07-28 request;
- stdio: the bench itself writes JSON-RPC to the child's stdin and reads its stdout, as many
  calls as the bridge made, as many at once as there are sessions. The floor.
In the session-based protocol (2025-11-25), the one all three serve from a long-lived child.
Neither bridge logs per call (LOG_LEVEL=warning, --logLevel none). CPU per call is user +
system time of the server and its children (the floor: the child's own), so "+cpu", CPU per
call over the floor's, is what bridging adds.

Then the bridge against a server written on the runtime (bench/peers/runtime_echo.py), in
both protocol generations: what the stdio hop costs next to not having one.

    uv run python bench/bridge.py [--seconds 3] [--rounds 3]

Same load generator and alternating slices as bench/servers.py. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from harness.bridge import BRIDGE, fake_server
from harness.catalog import stdio_command
from harness.npm import npm_executable
from harness.processes import ServerProcess, free_port

from servers import (
    PEERS,
    PROTOCOLS,
    Cell,
    LoadAverage,
    Samples,
    cpu_seconds,
    process_tree,
    progress,
    side_by_side,
)

SUPERGATEWAY_VERSION = "4.0.0"
SESSION_BASED = "2025-11-25"
SESSIONS = (1, 10)
QUIET = {"LOG_LEVEL": "warning"}
# Lines of a real server's stdout can be long (a tools/list); asyncio's default is 64 KiB.
STDOUT_LIMIT = 16 * 1024 * 1024

Call = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class StdioServer:
    name: str
    command: list[str]
    call: Call


@dataclass
class Measured:
    """What bench/servers.py's `measure` needs of a server: its port and its CPU time, that
    of the process and all its descendants (a bridge's children)."""

    port: int
    pid: int

    def cpu_seconds(self) -> float:
        return cpu_seconds(process_tree(self.pid))


def stdio_servers() -> list[StdioServer]:
    everything = stdio_command("everything")
    return [
        StdioServer("fake", fake_server(), ("echo", {"text": "ping"})),
        StdioServer("everything", everything, ("echo", {"message": "ping"})),
    ]


@contextmanager
def bridge(command: list[str]) -> Iterator[Measured]:
    with ServerProcess([*BRIDGE, "--", *command], QUIET) as process:
        process.wait_ready()
        yield Measured(process.port, process.pid)


@contextmanager
def supergateway(command: list[str]) -> Iterator[Measured]:
    executable = npm_executable("supergateway", SUPERGATEWAY_VERSION, "supergateway")
    port = free_port()
    argv = [
        str(executable),
        "--stdio",
        shlex.join(command),
        "--outputTransport",
        "streamableHttp",
        "--stateful",
        "--port",
        str(port),
        "--logLevel",
        "none",
        "--healthEndpoint",
        "/health",
    ]
    with ServerProcess(argv, port=port) as process:
        process.wait_until_answering("/health", {200})
        yield Measured(port, process.pid)


class StdioClient:
    """JSON-RPC over a child's stdin and stdout: what a client without a bridge does."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next_id = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, command: list[str]) -> StdioClient:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=STDOUT_LIMIT,
        )
        client = cls(process)
        initialize = {
            "protocolVersion": SESSION_BASED,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        }
        await client.request("initialize", initialize)
        client._write({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return client

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        answer = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = answer
        self._write({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        message = await answer
        if "result" not in message:
            raise RuntimeError(f"JSON-RPC error: {message}")
        return message["result"]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return await self.request("tools/call", {"name": name, "arguments": arguments})

    async def close(self) -> None:
        self.process.terminate()
        await self.process.wait()
        self._reader.cancel()

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            # The child's own notifications and requests answer nothing of ours.
            if "method" in message:
                continue
            if (waiting := self._waiting.pop(message.get("id"), None)) is not None:
                waiting.set_result(message)


async def measure_stdio(command: list[str], calls: int, sessions: int, call: Call) -> Samples:
    """`calls` calls of `call` straight to a fresh child, `sessions` of them in flight at once."""
    tool, arguments = call
    client = await StdioClient.start(command)
    # One untimed call per session, as bench/servers.py's `measure` makes.
    await asyncio.gather(*(client.call_tool(tool, arguments) for _ in range(sessions)))
    latencies: list[float] = []
    errors: list[str] = []
    left = calls

    async def loop() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            begin = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            if result.get("isError"):
                errors.append(str(result.get("content")))
            latencies.append(time.perf_counter() - begin)

    pids = process_tree(client.process.pid)
    cpu_before = cpu_seconds(pids)
    client_cpu_before = time.process_time()
    begin = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(sessions)))
    elapsed = time.perf_counter() - begin
    cpu_used = cpu_seconds(pids) - cpu_before
    client_cpu_used = time.process_time() - client_cpu_before
    await client.close()
    return Samples(latencies, errors, elapsed, cpu_used, client_cpu_used)


Row = dict[str, Cell]


def three_ways(server: StdioServer, seconds: float, rounds: int) -> dict[int, Row]:
    """Bridge and supergateway in alternating slices, then the floor with as many calls as
    the bridge answered, at each number of sessions."""
    rows: dict[int, Row] = {}
    with ExitStack() as stack:
        http = {
            "bridge": stack.enter_context(bridge(server.command)),
            "supergateway": stack.enter_context(supergateway(server.command)),
        }
        for sessions in SESSIONS:
            loads = {name: (measured, server.call) for name, measured in http.items()}
            row = side_by_side(loads, SESSION_BASED, sessions, seconds, rounds)
            calls = round(row["bridge"].calls_per_second * seconds)
            floor = measure_stdio(server.command, calls, sessions, server.call)
            row["stdio"] = asyncio.run(floor).cell()
            rows[sessions] = row
    return rows


def against_runtime(seconds: float, rounds: int) -> dict[tuple[str, int], Row]:
    """The bridge (fake stdio server) against a server on the runtime, both generations."""
    table: dict[tuple[str, int], Row] = {}
    with ExitStack() as stack:
        runtime = stack.enter_context(
            ServerProcess([sys.executable, str(PEERS / "runtime_echo.py")], QUIET)
        )
        runtime.wait_ready()
        loads = {
            "bridge": (stack.enter_context(bridge(fake_server())), ("echo", {"text": "ping"})),
            "runtime": (Measured(runtime.port, runtime.pid), ("echo", {"text": "ping"})),
        }
        for protocol in PROTOCOLS:
            for sessions in SESSIONS:
                table[protocol, sessions] = side_by_side(loads, protocol, sessions, seconds, rounds)
    return table


def _errors(cells: Row) -> str:
    return "".join(
        f"  {name}: {cell.errors} errors, first: {cell.first_error[:80]}"
        for name, cell in cells.items()
        if cell.errors
    )


def _columns(cell: Cell, width: int) -> str:
    """calls/s, p95 and CPU per call, the calls/s `width` wide."""
    return (
        f"{cell.calls_per_second:>{width}.0f}{cell.p95_ms:>7.1f}"
        f"{cell.server_cpu_ms_per_call:>6.2f} |"
    )


def print_three_ways(tables: dict[str, dict[int, Row]]) -> None:
    print()
    print("1. Trivial `echo` of one stdio server, session-based protocol (2025-11-25), load from")
    print("   one client process on 127.0.0.1. /s = calls per second; p95 ms; cpu = server CPU ms")
    print("   per call, children included (stdio: the child alone); ours/sg = bridge calls/s over")
    print("   supergateway's (goal: >= 1.5x at 10 sessions); +cpu = CPU ms per call over the stdio")
    print("   floor (goal for the bridge: < 1 ms); client = load generator CPU ms per call.")
    names = {"bridge": 10, "supergateway": 16, "stdio": 9}
    header = f"{'server':<11}{'sessions':>8} |" + "".join(
        f"{name + ' /s':>{width}}{'p95':>7}{'cpu':>6} |" for name, width in names.items()
    )
    header += f"{'ours/sg':>8}{'bridge +cpu':>12}{'sg +cpu':>8} |{'client':>7}"
    print(header)
    print("-" * len(header))
    for server, rows in tables.items():
        for sessions, cells in rows.items():
            line = f"{server:<11}{sessions:>8} |"
            line += "".join(_columns(cells[name], width) for name, width in names.items())
            floor = cells["stdio"].server_cpu_ms_per_call
            ours, theirs = cells["bridge"], cells["supergateway"]
            line += (
                f"{ours.calls_per_second / theirs.calls_per_second:>7.2f}x"
                f"{ours.server_cpu_ms_per_call - floor:>+12.2f}"
                f"{theirs.server_cpu_ms_per_call - floor:>+8.2f} |"
                f"{ours.client_cpu_ms_per_call:>7.2f}"
            )
            print(line + _errors(cells))


def print_against_runtime(table: dict[tuple[str, int], Row]) -> None:
    print()
    print("2. The bridge (fake stdio server) against a server on the runtime, same `echo`.")
    print("   extra cpu = the bridge's CPU ms per call over the runtime server's.")
    header = (
        f"{'protocol':<11}{'sessions':>8} |{'bridge /s':>10}{'p95':>7}{'cpu':>6} |"
        f"{'runtime /s':>11}{'p95':>7}{'cpu':>6} |{'extra cpu':>10}"
    )
    print(header)
    print("-" * len(header))
    for (protocol, sessions), cells in table.items():
        ours, runtime = cells["bridge"], cells["runtime"]
        print(
            f"{protocol:<11}{sessions:>8} |{_columns(ours, 10)}"
            f"{_columns(runtime, 11)}"
            f"{ours.server_cpu_ms_per_call - runtime.server_cpu_ms_per_call:>+9.2f}ms"
            + _errors(cells)
        )


def bench(seconds: float, rounds: int) -> None:
    with LoadAverage() as load:
        print(f"start: {load.now()}", flush=True)
        tables = {}
        for server in stdio_servers():
            progress(f"{server.name}: bridge, supergateway, stdio:")
            tables[server.name] = three_ways(server, seconds, rounds)
        progress("the bridge against the runtime:")
        runtime_table = against_runtime(seconds, rounds)
        print(f"end: {load.now()}", flush=True)
        print_three_ways(tables)
        print_against_runtime(runtime_table)
        print()
        print(load.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per server per cell")
    parser.add_argument(
        "--rounds", type=int, default=3, help="slices per cell, alternating between the servers"
    )
    args = parser.parse_args()
    bench(args.seconds, args.rounds)


if __name__ == "__main__":
    main()
