"""Tool-call throughput of the todo server against a stock FastMCP app, measured side by side.

Both apps serve the same todo tools over one uvicorn worker on 127.0.0.1 from an SQLite file;
only the serving differs: ours goes through the shared runtime (mcp-todo), the stock app is
`FastMCP(...).run(transport="http")` with default settings. The load is `get_task` on one
seeded task (a trivial tool), from 1, 10 and 100 concurrent sessions of each protocol
generation. Also printed: seconds from process start to /ready, and idle RSS.

    uv run python bench/servers.py [--seconds 4]

Goals (issue 4): >= 2.5x the stock app's calls/s, p95 < 150 ms at 100 sessions,
ready < 2 s, idle RSS < 100 MiB. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

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
    process: subprocess.Popen[bytes]
    port: int
    seconds_to_ready: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

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
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    port = free_port()
    env = {**env, "MCP_HOST": "127.0.0.1", "MCP_PORT": str(port)}
    begin = time.perf_counter()
    process = subprocess.Popen(
        [*command, str(port)] if name == "stock" else command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        seconds = _wait_answering(process, f"http://127.0.0.1:{port}{probe}", begin)
        yield Server(name, process, port, seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_answering(process: subprocess.Popen[bytes], url: str, begin: float) -> float:
    deadline = begin + 60
    with httpx.Client(timeout=1) as http:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode} before answering {url}")
            try:
                # The stock app has no /ready: any answer from /mcp counts as up.
                if http.get(url).status_code in (200, 400, 405, 406):
                    return time.perf_counter() - begin
            except httpx.TransportError:
                pass
            time.sleep(0.01)
    raise SystemExit(f"{url} did not answer within 60 s")


def _result(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC result from a JSON or an SSE response."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        text = next(line[5:] for line in text.splitlines() if line.startswith("data:"))
    message = json.loads(text)
    if "result" not in message:
        raise RuntimeError(f"JSON-RPC error: {message}")
    return message["result"]


class Session:
    """One MCP session speaking raw HTTP, so the client stays cheap next to the server."""

    def __init__(self, http: httpx.AsyncClient, url: str, protocol: str) -> None:
        self._http = http
        self._url = url
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
        response = await self._post(
            "initialize",
            {
                "protocolVersion": self._protocol,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        _result(response)
        if session_id := response.headers.get("mcp-session-id"):
            self._headers["mcp-session-id"] = session_id
        self._headers["mcp-protocol-version"] = self._protocol
        await self._http.post(
            self._url,
            headers=self._headers,
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        )

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        headers = {}
        if self._protocol == "2026-07-28":
            params["_meta"] = MODERN_META
            headers = {"mcp-method": "tools/call", "mcp-name": name}
        return await self._request("tools/call", params, headers)

    async def _request(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return _result(await self._post(method, params, headers))

    async def _post(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        self._next_id += 1
        extra = {"mcp-method": method} if self._protocol == "2026-07-28" else {}
        response = await self._http.post(
            self._url,
            headers={**self._headers, **extra, **(headers or {})},
            json={"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params},
        )
        response.raise_for_status()
        return response


async def seed_task(url: str) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        session = Session(http, url, "2025-11-25")
        await session.open()
        created = await session.call_tool("create_task", {"title": "benchmark"})
        return int(created["structuredContent"]["id"])


async def measure(url: str, protocol: str, sessions: int, seconds: float, task_id: int) -> Cell:
    limits = httpx.Limits(max_connections=sessions, max_keepalive_connections=sessions)
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        opened = [Session(http, url, protocol) for _ in range(sessions)]
        await asyncio.gather(*(s.open() for s in opened))
        stop_at = time.perf_counter() + seconds

        async def loop(session: Session) -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                begin = time.perf_counter()
                try:
                    result = await session.call_tool("get_task", {"task_id": task_id})
                    errors += bool(result.get("isError"))
                except (httpx.HTTPError, RuntimeError):
                    errors += 1
                latencies.append(time.perf_counter() - begin)

        begin = time.perf_counter()
        await asyncio.gather(*(loop(s) for s in opened))
        elapsed = time.perf_counter() - begin
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return Cell(
        calls_per_second=len(latencies) / elapsed,
        p50_ms=quantiles[49] * 1000,
        p95_ms=quantiles[94] * 1000,
        errors=errors,
    )


def bench(seconds: float) -> None:
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MCP_", "DATABASE_URL", "LOG_LEVEL"))
    }
    results: dict[tuple[str, str, int], Cell] = {}
    startup: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp:
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
        for name, (command, env, probe) in apps.items():
            with started(name, command, {**base_env, **env}, probe) as server:
                time.sleep(1)
                startup[name] = (server.seconds_to_ready, server.rss_mib())
                task_id = asyncio.run(seed_task(server.url))
                for protocol in PROTOCOLS:
                    for sessions in CONCURRENCY:
                        cell = asyncio.run(
                            measure(server.url, protocol, sessions, seconds, task_id)
                        )
                        results[(name, protocol, sessions)] = cell
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
    print("one uvicorn worker each, load from one client process on 127.0.0.1")
    print()
    header = (
        f"{'protocol':<11} {'sessions':>8} | {'ours calls/s':>12} {'p50 ms':>7} {'p95 ms':>7} | "
    )
    header += f"{'stock calls/s':>13} {'p50 ms':>7} {'p95 ms':>7} | {'ratio':>5}"
    print(header)
    print("-" * len(header))
    for protocol in PROTOCOLS:
        for sessions in CONCURRENCY:
            ours = results[("ours", protocol, sessions)]
            stock = results[("stock", protocol, sessions)]
            errors = ours.errors + stock.errors
            print(
                f"{protocol:<11} {sessions:>8} | {ours.calls_per_second:>12.0f} {ours.p50_ms:>7.1f} "
                f"{ours.p95_ms:>7.1f} | {stock.calls_per_second:>13.0f} {stock.p50_ms:>7.1f} "
                f"{stock.p95_ms:>7.1f} | {ours.calls_per_second / stock.calls_per_second:>4.1f}x"
                + (f"  ({errors} errors)" if errors else "")
            )
    print()
    ours_ready, ours_rss = startup["ours"]
    stock_ready, stock_rss = startup["stock"]
    print(
        f"start to /ready: ours {ours_ready:.2f} s (stock answers /mcp after {stock_ready:.2f} s)"
    )
    print(f"idle RSS:        ours {ours_rss:.0f} MiB, stock {stock_rss:.0f} MiB")
    print("goals: >= 2.5x stock calls/s, p95 < 150 ms at 100 sessions, ready < 2 s, RSS < 100 MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="load time per table cell")
    parser.add_argument(
        "--stock-server", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.stock_server:
        data_dir, port = args.stock_server
        serve_stock(int(port), data_dir)
        return
    bench(args.seconds)


if __name__ == "__main__":
    main()
