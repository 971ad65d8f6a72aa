"""Load generator for MCP servers: trivial tool calls/s and latency over N concurrent sessions.

Speaks the wire protocol directly with httpx (one connection per session) so that the client
costs as little CPU as possible next to the server on the same machine. Compares the
runtime's test sample server with a stock FastMCP app serving the same `echo` tool:

    uv run python bench/runtime_calls.py        (BENCH_SECONDS=4 per cell by default)
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

# The process harness lives with the tests, which are not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from harness.processes import ServerProcess, free_port

Generation = Literal["session-based", "session-less"]

SESSION_BASED_VERSION = "2025-11-25"
SESSION_LESS_VERSION = "2026-07-28"
_ACCEPT = "application/json, text/event-stream"


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


class Session:
    """One MCP client session on its own HTTP connection."""

    def __init__(self, url: str, generation: Generation) -> None:
        self._url = url
        self._generation = generation
        self._http = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=1))
        self._headers = {"Accept": _ACCEPT, "Content-Type": "application/json"}
        self._next_id = 0

    async def open(self) -> None:
        if self._generation == "session-less":
            self._headers["MCP-Protocol-Version"] = SESSION_LESS_VERSION
            return
        response = await self._post(
            "initialize",
            {
                "protocolVersion": SESSION_BASED_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "0"},
            },
        )
        session_id = response.headers.get("mcp-session-id")
        if session_id:
            self._headers["Mcp-Session-Id"] = session_id
        self._headers["MCP-Protocol-Version"] = SESSION_BASED_VERSION
        await self._http.post(
            self._url,
            headers=self._headers,
            json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        )

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> None:
        params: dict[str, Any] = {"name": name, "arguments": dict(arguments)}
        headers = None
        if self._generation == "session-less":
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": SESSION_LESS_VERSION,
                "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            headers = {"Mcp-Method": "tools/call", "Mcp-Name": name}
        response = await self._post("tools/call", params, headers)
        message = _json_rpc_message(response)
        if "error" in message or message["result"].get("isError"):
            raise RuntimeError(f"tool call failed: {message}")

    async def _post(
        self, method: str, params: Mapping[str, Any], extra_headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        self._next_id += 1
        headers = {**self._headers, **extra_headers} if extra_headers else self._headers
        response = await self._http.post(
            self._url,
            headers=headers,
            json={"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params},
        )
        response.raise_for_status()
        return response

    async def close(self) -> None:
        await self._http.aclose()


def _json_rpc_message(response: httpx.Response) -> dict[str, Any]:
    """The JSON-RPC message of a plain JSON or a server-sent-events response."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            if line.startswith("data: ") and line[6:].strip():
                message: dict[str, Any] = json.loads(line[6:])
                return message
        raise RuntimeError("event stream without a message")
    return response.json()  # type: ignore[no-any-return]


async def measure(
    url: str,
    sessions: int,
    seconds: float,
    generation: Generation,
    tool: str = "echo",
    arguments: Mapping[str, Any] | None = None,
) -> LoadResult:
    """Call `tool` in a loop from `sessions` concurrent sessions for `seconds`."""
    arguments = arguments if arguments is not None else {"text": "ping"}
    opened = [Session(url, generation) for _ in range(sessions)]
    await asyncio.gather(*(session.open() for session in opened))
    latencies: list[float] = []
    errors = 0
    # One untimed call per session warms imports and caches on the server.
    await asyncio.gather(*(session.call_tool(tool, arguments) for session in opened))
    started = time.perf_counter()
    deadline = started + seconds

    async def loop(session: Session) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            before = time.perf_counter()
            try:
                await session.call_tool(tool, arguments)
            except (httpx.HTTPError, RuntimeError):
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
            f"{'generation':14} {'sessions':>8} {'server':8} {'calls/s':>8} {'p50 ms':>7} "
            f"{'p95 ms':>7} {'cpu ms/call':>11} {'errors':>6}"
        )
        for server in servers.values():
            # The stock app has no /health: any answer from /mcp counts as up.
            stack.enter_context(server).wait_until_answering("/mcp")
        for generation in ("session-less", "session-based"):
            for sessions in (1, 10, 100):
                # Alternate the two servers so that both see the same machine load.
                for name, server in servers.items():
                    before = _cpu_seconds(server.pid)
                    result = asyncio.run(measure(server.mcp_url, sessions, seconds, generation))
                    cpu_ms = (_cpu_seconds(server.pid) - before) * 1000 / max(result.calls, 1)
                    print(
                        f"{generation:14} {sessions:>8} {name:8} "
                        f"{result.calls_per_second:>8.0f} {result.percentile_ms(50):>7.1f} "
                        f"{result.percentile_ms(95):>7.1f} {cpu_ms:>11.2f} {result.errors:>6}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
