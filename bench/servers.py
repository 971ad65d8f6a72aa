"""Tool-call throughput of the todo server against a stock FastMCP app, measured side by side.

Both apps serve the same todo tools over one uvicorn worker on 127.0.0.1 from an SQLite file;
only the serving differs: ours goes through the shared runtime (mcp-todo), the stock app is
`FastMCP(...).run(transport="http")` with default settings. The load is `get_task` on one
seeded task (a trivial tool), from 1, 10 and 100 concurrent sessions of each protocol
generation. Also printed: seconds from process start to /ready, and idle RSS a second
later (medians of `--starts` starts of each app, one at a time).

    uv run python bench/servers.py [--seconds 4] [--rounds 4]

Fairness on a small, shared machine:
- Both apps get the same load generator: raw JSON-RPC POSTs with the headers a real client
  of that generation sends, over one bare keep-alive HTTP/1.1 connection per session (an
  MCP client library would spend more CPU than the servers and cap both alike). Its CPU per
  call is printed (`client`), so a run where it, not a server, is the limit shows.
- Both servers run at once and each table cell loads them in short alternating slices
  (`--rounds`), so that background load on the machine falls on both alike; compare the
  ratios.
- Installed packages are byte-compiled first, as the container images ship them; start-up
  would otherwise include compiling whatever the environment never wrote bytecode for.

Goals (issue 4): >= 2.5x the stock app's calls/s, p95 < 150 ms at 100 sessions,
ready < 2 s, idle RSS < 100 MiB. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The process harness lives with the tests, which are not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
if TYPE_CHECKING:
    from harness.processes import ServerProcess

VENV_BIN = Path(sys.executable).parent
CONCURRENCY = (1, 10, 100)
PROTOCOLS = ("2026-07-28", "2025-11-25")
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Server:
    name: str
    process: ServerProcess
    seconds_to_ready: float

    @property
    def port(self) -> int:
        return self.process.port

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


@dataclass
class Cell:
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    server_cpu_ms_per_call: float
    client_cpu_ms_per_call: float
    errors: int
    first_error: str


def serve_stock(port: int, data_dir: str) -> None:
    """The baseline: the same tools on FastMCP with default settings."""
    from fastmcp import FastMCP
    from mcp_todo.service import TaskService
    from mcp_todo.store import make_store
    from mcp_todo.tools import register_tools

    mcp = FastMCP("todo")
    register_tools(mcp, TaskService(make_store(None, Path(data_dir))))
    mcp.run(transport="http", host="127.0.0.1", port=port, show_banner=False)


@contextmanager
def started(name: str, command: list[str], env: dict[str, str], probe: str) -> Iterator[Server]:
    # Imported here, not at the top: the stock server runs from this file and must not pay
    # for the harness's imports at start-up.
    from harness.processes import ServerProcess, free_port

    port = free_port()
    argv = [*command, str(port)] if name == "stock" else command
    with ServerProcess(argv, env, port=port) as process:
        # The stock app has no /ready: any answer from /mcp counts as up.
        seconds = process.wait_until_answering(probe, {200, 400, 405, 406})
        yield Server(name, process, seconds)


class HttpConnection:
    """A bare HTTP/1.1 keep-alive connection: a load generator far cheaper than httpx.

    With two cores shared by server and client, client overhead would otherwise decide
    the numbers for both apps alike and hide the difference between them.
    """

    def __init__(self, port: int) -> None:
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        head = (
            f"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{self._port}\r\ncontent-length: {len(body)}\r\n"
        )
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._writer.write(head.encode() + b"\r\n" + body)
        lines = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        response_headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        return status, response_headers, await self._body(response_headers)

    async def _body(self, headers: dict[str, str]) -> bytes:
        assert self._reader is not None
        if "content-length" in headers:
            return await self._reader.readexactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            chunks = []
            while size := int((await self._reader.readuntil(b"\r\n")).strip(), 16):
                chunks.append((await self._reader.readexactly(size + 2))[:-2])
            await self._reader.readuntil(b"\r\n")
            return b"".join(chunks)
        return await self._reader.read()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _result(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The JSON-RPC result from a JSON or an SSE response."""
    text = body.decode()
    if headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    message = json.loads(text)
    if "result" not in message:
        raise RuntimeError(f"JSON-RPC error: {message}")
    return message["result"]


class Session:
    """One MCP session of either protocol generation over one keep-alive connection."""

    def __init__(self, port: int, protocol: str) -> None:
        self._connection = HttpConnection(port)
        self._protocol = protocol
        self._headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        self._next_id = 0

    async def open(self) -> None:
        if self._protocol == "2026-07-28":
            self._headers["mcp-protocol-version"] = self._protocol
            await self._request("server/discover", {"_meta": MODERN_META})
            return
        initialize = {
            "protocolVersion": self._protocol,
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        }
        headers, body = await self._post("initialize", initialize)
        _result(headers, body)
        if session_id := headers.get("mcp-session-id"):
            self._headers["mcp-session-id"] = session_id
        self._headers["mcp-protocol-version"] = self._protocol
        notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await self._connection.post(self._headers, json.dumps(notification).encode())

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        headers = {}
        if self._protocol == "2026-07-28":
            params["_meta"] = MODERN_META
            headers = {"mcp-name": name}
        return await self._request("tools/call", params, headers)

    async def close(self) -> None:
        await self._connection.close()

    async def _request(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return _result(*await self._post(method, params, headers))

    async def _post(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[dict[str, str], bytes]:
        self._next_id += 1
        if self._protocol == "2026-07-28":
            headers = {"mcp-method": method, **(headers or {})}
        message = {"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params}
        status, response_headers, body = await self._connection.post(
            {**self._headers, **(headers or {})}, json.dumps(message).encode()
        )
        if status != 200:
            raise RuntimeError(f"HTTP {status} for {method}: {body[:200]!r}")
        return response_headers, body


async def seed_task(port: int) -> int:
    session = Session(port, "2025-11-25")
    await session.open()
    created = await session.call_tool("create_task", {"title": "benchmark"})
    await session.close()
    return int(created["structuredContent"]["id"])


@dataclass
class Samples:
    """What one or more load slices on one server measured; `cell()` sums them up."""

    latencies: list[float]
    errors: list[str]
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def add(self, other: Samples) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu

    def cell(self) -> Cell:
        calls = max(len(self.latencies), 1)
        quantiles = (
            statistics.quantiles(self.latencies, n=100)
            if len(self.latencies) > 1
            else self.latencies * 99
        )
        return Cell(
            calls_per_second=len(self.latencies) / self.seconds,
            p50_ms=quantiles[49] * 1000,
            p95_ms=quantiles[94] * 1000,
            server_cpu_ms_per_call=self.server_cpu * 1000 / calls,
            client_cpu_ms_per_call=self.client_cpu * 1000 / calls,
            errors=len(self.errors),
            first_error=self.errors[0] if self.errors else "",
        )


async def measure(
    server: Server, protocol: str, sessions: int, seconds: float, task_id: int
) -> Samples:
    latencies: list[float] = []
    errors: list[str] = []
    opened = [Session(server.port, protocol) for _ in range(sessions)]
    await asyncio.gather(*(s.open() for s in opened))
    stop_at = time.perf_counter() + seconds

    async def loop(session: Session) -> None:
        while time.perf_counter() < stop_at:
            begin = time.perf_counter()
            try:
                result = await session.call_tool("get_task", {"task_id": task_id})
                if result.get("isError"):
                    errors.append(str(result.get("content")))
            except (OSError, asyncio.IncompleteReadError, RuntimeError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            latencies.append(time.perf_counter() - begin)

    cpu_before = server.cpu_seconds()
    client_cpu_before = time.process_time()
    begin = time.perf_counter()
    await asyncio.gather(*(loop(s) for s in opened))
    elapsed = time.perf_counter() - begin
    cpu_used = server.cpu_seconds() - cpu_before
    client_cpu_used = time.process_time() - client_cpu_before
    await asyncio.gather(*(s.close() for s in opened))
    return Samples(latencies, errors, elapsed, cpu_used, client_cpu_used)


def compile_bytecode() -> None:
    """Byte-compile the installed packages and our servers, as the images ship them."""
    for directory in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        compileall.compile_dir(directory, quiet=1, workers=0)
    compileall.compile_dir(Path(__file__).resolve().parents[1] / "servers", quiet=1)


def bench(seconds: float, rounds: int, starts: int) -> None:
    compile_bytecode()
    results: dict[tuple[str, str, int], Cell] = {}
    starts_seen: dict[str, list[tuple[float, float]]] = {"ours": [], "stock": []}
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp, ExitStack() as stack:
        apps = {
            "ours": (
                [str(VENV_BIN / "mcp-todo")],
                {"MCP_DATA_DIR": f"{tmp}/ours", "LOG_LEVEL": "warning"},
                "/ready",
            ),
            "stock": (
                [sys.executable, __file__, "--stock-server", f"{tmp}/stock"],
                {"FASTMCP_LOG_LEVEL": "WARNING"},
                "/mcp",
            ),
        }
        # One start at a time, taking turns; the median of several is steadier than one.
        for _ in range(starts):
            for name, (command, env, probe) in apps.items():
                with started(name, command, env, probe) as server:
                    time.sleep(1)
                    starts_seen[name].append((server.seconds_to_ready, server.rss_mib()))
        startup = {
            name: (
                statistics.median(ready for ready, _ in seen),
                statistics.median(rss for _, rss in seen),
            )
            for name, seen in starts_seen.items()
        }
        servers: dict[str, tuple[Server, int]] = {}
        for name, (command, env, probe) in apps.items():
            server = stack.enter_context(started(name, command, env, probe))
            servers[name] = (server, asyncio.run(seed_task(server.port)))
        for protocol in PROTOCOLS:
            for sessions in CONCURRENCY:
                # Short slices taking turns, so a burst of other load hits both apps alike.
                samples = {name: Samples([], []) for name in servers}
                for _ in range(rounds):
                    for name, (server, task_id) in servers.items():
                        samples[name].add(
                            asyncio.run(
                                measure(server, protocol, sessions, seconds / rounds, task_id)
                            )
                        )
                for name, taken in samples.items():
                    cell = results[(name, protocol, sessions)] = taken.cell()
                    print(
                        f"  {name:5} {protocol} {sessions:>3} sessions: "
                        f"{cell.calls_per_second:7.0f} calls/s",
                        file=sys.stderr,
                        flush=True,
                    )
    print_table(results, startup)


def print_table(
    results: dict[tuple[str, str, int], Cell], startup: dict[str, tuple[float, float]]
) -> None:
    print("todo server (mcp-todo, shared runtime) vs stock FastMCP app, get_task on SQLite,")
    print("one uvicorn worker each, load from one client process on 127.0.0.1.")
    print("cpu = server CPU ms per call (less sensitive to other load on the machine);")
    print("client = the load generator's CPU ms per call, ours / stock.")
    print()
    header = (
        f"{'protocol':<11}{'sessions':>8} |{'ours/s':>7}{'p50':>7}{'p95':>7}{'cpu':>6} |"
        f"{'stock/s':>8}{'p50':>7}{'p95':>7}{'cpu':>6} |{'ratio':>6}{'cpu':>6} |"
        f"{'client':>11}"
    )
    print(header)
    print("-" * len(header))
    for protocol in PROTOCOLS:
        for sessions in CONCURRENCY:
            ours = results[("ours", protocol, sessions)]
            stock = results[("stock", protocol, sessions)]
            line = (
                f"{protocol:<11}{sessions:>8} |{ours.calls_per_second:>7.0f}{ours.p50_ms:>7.1f}"
                f"{ours.p95_ms:>7.1f}{ours.server_cpu_ms_per_call:>6.2f} |"
                f"{stock.calls_per_second:>8.0f}{stock.p50_ms:>7.1f}{stock.p95_ms:>7.1f}"
                f"{stock.server_cpu_ms_per_call:>6.2f} |"
                f"{ours.calls_per_second / stock.calls_per_second:>5.1f}x"
                f"{stock.server_cpu_ms_per_call / ours.server_cpu_ms_per_call:>5.1f}x |"
                f"{ours.client_cpu_ms_per_call:>5.2f} /{stock.client_cpu_ms_per_call:>5.2f}"
            )
            for name, cell in (("ours", ours), ("stock", stock)):
                if cell.errors:
                    line += f"  {name}: {cell.errors} errors, first: {cell.first_error[:80]}"
            print(line)
    print()
    ours_ready, ours_rss = startup["ours"]
    stock_ready, stock_rss = startup["stock"]
    print(
        f"start to /ready: ours {ours_ready:.2f} s (stock answers /mcp after {stock_ready:.2f} s),"
        " medians"
    )
    print(f"idle RSS:        ours {ours_rss:.0f} MiB, stock {stock_rss:.0f} MiB")
    print("goals: >= 2.5x stock calls/s, p95 < 150 ms at 100 sessions, ready < 2 s, RSS < 100 MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="load time per table cell")
    parser.add_argument(
        "--rounds", type=int, default=4, help="slices per cell, alternating between the apps"
    )
    parser.add_argument(
        "--starts", type=int, default=3, help="starts of each app; the median is printed"
    )
    parser.add_argument(
        "--stock-server", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.stock_server:
        data_dir, port = args.stock_server
        serve_stock(int(port), data_dir)
        return
    bench(args.seconds, args.rounds, args.starts)


if __name__ == "__main__":
    main()
