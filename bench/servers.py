"""MCP servers side by side on this machine: server CPU per call, start-up, memory, workers.

Each serves one trivial tool (`echo`, declared to run on the event loop as the Go SDK runs its
handler: FastMCP's `run_in_thread=False`) over streamable HTTP on 127.0.0.1:
- ours: the shared runtime (bench/peers/runtime_echo.py), one uvicorn worker unless noted;
- go-sdk: the official Go SDK v1.8.0, stateless, plain JSON (bench/peers/go-sdk, built here
  with `go build` from the Go module proxy into .run/bench/);
- stock: FastMCP with default settings (`mcp.run(transport="http")`, bench/peers/stock_fastmcp.py);
- lowlevel: the MCP SDK's low-level server, stateless, plain JSON (start-up only).
Also: the todo server's `get_task` on SQLite against ours' trivial tool, start to /ready
(median of `--starts`), idle RSS, MCP_WORKERS=2 against 1 at 100 sessions, and ours with
/metrics on a port of its own (MCP_METRICS_PORT, as the chart runs it) against without, and
ours at the default LOG_LEVEL=info (a `tool_call` line per call) against warning.

    uv run python bench/servers.py [--seconds 3] [--rounds 3] [--starts 5]

Fairness on a small, shared machine:
- Every server gets the same load generator: raw JSON-RPC POSTs with the headers a real
  client of that protocol generation sends, over one bare keep-alive HTTP/1.1 connection per
  session (an MCP client library would spend more CPU than the servers). Its CPU per call is
  printed (`client`), so a run where it, not a server, is the limit shows. Two workers
  against one need both cores, which that generator shares: their table is measured with it
  and again with wrk (Debian's `wrk`, bench/wrk_load.py) sending the same sessions' requests
  for a few microseconds of CPU a call.
- The servers run at once and each table cell loads them in short alternating slices
  (`--rounds`), so that other load on the machine falls on all alike. Server CPU per call
  (user + system time of the server's processes) is the number to compare: calls/s and
  latencies depend on what else the two cores are doing, which the load average shows.
- Installed packages are byte-compiled first, as the container images ship them.

Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wrk_load import ID_MARK, run_wrk

REPO = Path(__file__).resolve().parents[1]
if TYPE_CHECKING:
    from harness.processes import ServerProcess

VENV_BIN = Path(sys.executable).parent
PEERS = REPO / "bench" / "peers"
GO_PEER_SOURCE = PEERS / "go-sdk"
GO_PEER_BINARY = REPO / ".run" / "bench" / "go-sdk-peer"
CONCURRENCY = (1, 10, 100)
PROTOCOLS = ("2026-07-28", "2025-11-25")
# Table 3's load generators: the bench's own (Python) and wrk, which leaves the workers more
# of the two cores.
LOAD_GENERATORS = ("python", "wrk")
# Rounds of the get_task table, whose goal is a ratio of the two loads (`paired_ratio`).
PAIRED_ROUNDS = 7
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
ECHO = ("echo", {"text": "ping"})
# Statuses by which a server without /ready shows it is up: any answer from /mcp.
ANY_ANSWER = frozenset({200, 400, 405, 406})


@dataclass(frozen=True)
class Peer:
    """How to start one server: its command (the port is appended when `port_arg`), its
    environment, and the path that answers once it is up."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    probe: str = "/ready"
    statuses: frozenset[int] = frozenset({200})
    port_arg: str | None = None


def process_tree(root: int) -> list[int]:
    """`root` and its descendants, whichever thread started them."""
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                pending += [int(child) for child in (task / "children").read_text().split()]
            except FileNotFoundError:
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes `pids` have used so far (exited ones: none)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    peer: Peer
    process: ServerProcess
    seconds_to_ready: float

    @property
    def port(self) -> int:
        return self.process.port

    def pids(self) -> list[int]:
        """The server's process and its descendants (workers)."""
        return process_tree(self.process.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server's processes have used so far."""
        return cpu_seconds(self.pids())

    def rss_mib(self) -> float:
        """Resident memory of the server's processes (shared pages counted in each)."""
        total = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024


@dataclass
class Cell:
    calls_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    server_cpu_ms_per_call: float
    client_cpu_ms_per_call: float
    errors: int
    first_error: str


class LoadAverage:
    """The 1-minute load average, sampled every few seconds while the bench runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> LoadAverage:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self._stop.wait(5):
                return

    def now(self) -> str:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"

    def summary(self) -> str:
        if not self.samples:
            return self.now()
        return (
            f"1-min load average during the run: min {min(self.samples):.2f}, median "
            f"{statistics.median(self.samples):.2f}, max {max(self.samples):.2f}"
            f" ({os.cpu_count()} cores)"
        )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_go_peer() -> Path | None:
    """The Go SDK peer, built with `go build` when its source is newer than the binary."""
    go = shutil.which("go")
    sources = [*GO_PEER_SOURCE.glob("*.go"), GO_PEER_SOURCE / "go.mod", GO_PEER_SOURCE / "go.sum"]
    newest = max(path.stat().st_mtime for path in sources)
    if GO_PEER_BINARY.exists() and GO_PEER_BINARY.stat().st_mtime >= newest:
        return GO_PEER_BINARY
    if go is None:
        progress("go not found: the Go SDK peer is left out")
        return None
    progress("building the Go SDK peer (go build, modules from the Go module proxy)...")
    GO_PEER_BINARY.parent.mkdir(parents=True, exist_ok=True)
    built = subprocess.run(
        [go, "build", "-o", str(GO_PEER_BINARY), "."],
        cwd=GO_PEER_SOURCE,
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        progress(f"go build failed, the Go SDK peer is left out:\n{built.stderr[-2000:]}")
        return None
    return GO_PEER_BINARY


def peers(tmp: str, go_peer: Path | None) -> dict[str, Peer]:
    from harness.processes import free_port

    quiet = {"LOG_LEVEL": "warning"}
    found = {
        "ours": Peer("ours", [sys.executable, str(PEERS / "runtime_echo.py")], quiet),
        "stock": Peer(
            "stock",
            [sys.executable, str(PEERS / "stock_fastmcp.py")],
            {"FASTMCP_LOG_LEVEL": "WARNING"},
            probe="/mcp",
            statuses=ANY_ANSWER,
            port_arg="port",
        ),
        # Its GET /mcp opens a stream that never ends; any other path answers 404 at once.
        "lowlevel": Peer(
            "lowlevel",
            [sys.executable, str(PEERS / "lowlevel_sdk.py")],
            probe="/ready",
            statuses=frozenset({404}),
            port_arg="port",
        ),
        "todo": Peer(
            "todo", [str(VENV_BIN / "mcp-todo")], {**quiet, "MCP_DATA_DIR": f"{tmp}/todo"}
        ),
        "ours-2w": Peer(
            "ours-2w",
            [sys.executable, str(PEERS / "runtime_echo.py")],
            {**quiet, "MCP_WORKERS": "2"},
        ),
        # As the chart runs every server (metrics.port): /metrics on a port of its own.
        "ours-metrics-port": Peer(
            "ours-metrics-port",
            [sys.executable, str(PEERS / "runtime_echo.py")],
            {**quiet, "MCP_METRICS_PORT": str(free_port())},
        ),
        # The servers' default: one `tool_call` line per call (to /dev/null here, as every
        # server's output in the bench; a container's goes to a pipe, a little dearer).
        "ours-info": Peer(
            "ours-info", [sys.executable, str(PEERS / "runtime_echo.py")], {"LOG_LEVEL": "info"}
        ),
    }
    if go_peer is not None:
        found["go-sdk"] = Peer("go-sdk", [str(go_peer)], port_arg="address")
    return found


@contextmanager
def started(peer: Peer) -> Iterator[Server]:
    # Imported here, not at the top: the harness imports httpx, which the peers need not.
    from harness.processes import LOOPBACK, ServerProcess, free_port

    port = free_port()
    argv = list(peer.command)
    if peer.port_arg == "port":
        argv.append(str(port))
    elif peer.port_arg == "address":
        argv.append(f"{LOOPBACK}:{port}")
    with ServerProcess(argv, peer.env, port=port) as process:
        seconds = process.wait_until_answering(peer.probe, peer.statuses)
        yield Server(peer, process, seconds)


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
        return await self.request("POST", headers, body)

    async def request(
        self, method: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
        head = (
            f"{method} /mcp HTTP/1.1\r\nhost: 127.0.0.1:{self._port}\r\n"
            f"content-length: {len(body)}\r\n"
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
    """The JSON-RPC result from a JSON or an SSE response (whose stream may carry the
    server's notifications before the answer)."""
    text = body.decode()
    if not headers.get("content-type", "").startswith("text/event-stream"):
        message = json.loads(text)
    else:
        events = [line[5:] for line in text.splitlines() if line.startswith("data:")]
        sent = [json.loads(data) for data in events if data.strip()]
        message = next((m for m in sent if "id" in m and "method" not in m), {"events": sent})
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
        params, headers = self._tool_call(name, arguments)
        return await self._request("tools/call", params, headers)

    def wire_call(
        self, name: str, arguments: dict[str, Any], request_id: int
    ) -> tuple[dict[str, str], bytes]:
        """The headers and body of a tools/call in this session, as another generator sends it."""
        params, headers = self._tool_call(name, arguments)
        return self._wire("tools/call", params, headers, request_id)

    def _tool_call(
        self, name: str, arguments: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        headers = {}
        if self._protocol == "2026-07-28":
            params["_meta"] = MODERN_META
            headers = {"mcp-name": name}
        return params, headers

    async def close(self) -> None:
        # A session-based server holds a session until told it is over (supergateway keeps
        # a child process for each), as a client that is done says with DELETE.
        if "mcp-session-id" in self._headers:
            with suppress(OSError, asyncio.IncompleteReadError):
                await self._connection.request("DELETE", self._headers, b"")
        await self._connection.close()

    async def _request(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        return _result(*await self._post(method, params, headers))

    async def _post(
        self, method: str, params: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[dict[str, str], bytes]:
        self._next_id += 1
        request_headers, body = self._wire(method, params, headers or {}, self._next_id)
        status, response_headers, answer = await self._connection.post(request_headers, body)
        if status != 200:
            raise RuntimeError(f"HTTP {status} for {method}: {answer[:200]!r}")
        return response_headers, answer

    def _wire(
        self, method: str, params: dict[str, Any], headers: dict[str, str], request_id: int
    ) -> tuple[dict[str, str], bytes]:
        if self._protocol == "2026-07-28":
            headers = {"mcp-method": method, **headers}
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        return {**self._headers, **headers}, json.dumps(message).encode()


async def seed_task(port: int) -> int:
    session = Session(port, "2025-11-25")
    await session.open()
    created = await session.call_tool("create_task", {"title": "benchmark"})
    await session.close()
    return int(created["structuredContent"]["id"])


@dataclass
class Samples:
    """What one or more load slices on one server measured; `cell()` sums them up."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    # Calls answered well; left out, one a latency. A wrk run gives its latencies' quantiles
    # and the count here.
    calls: int = -1

    def __post_init__(self) -> None:
        if self.calls < 0:
            self.calls = len(self.latencies)

    def add(self, other: Samples) -> None:
        self.calls += other.calls
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        self.server_cpu += other.server_cpu
        self.client_cpu += other.client_cpu

    def cell(self) -> Cell:
        calls = max(self.calls, 1)
        quantiles = (
            statistics.quantiles(self.latencies, n=100)
            if len(self.latencies) > 1
            else (self.latencies or [float("nan")]) * 99
        )
        return Cell(
            calls_per_second=self.calls / max(self.seconds, 1e-9),
            p50_ms=quantiles[49] * 1000,
            p95_ms=quantiles[94] * 1000,
            p99_ms=quantiles[98] * 1000,
            server_cpu_ms_per_call=self.server_cpu * 1000 / calls,
            client_cpu_ms_per_call=self.client_cpu * 1000 / calls,
            errors=len(self.errors),
            first_error=self.errors[0] if self.errors else "",
        )


TimedCall = Callable[[Session, float], Awaitable[bool]]


async def called_once(
    server: Server, protocol: str, sessions: int, call: tuple[str, dict[str, Any]]
) -> list[Session]:
    """`sessions` open sessions of `protocol`, each of which has made `call` once (first-call
    work is not what is compared)."""
    tool, arguments = call
    opened = [Session(server.port, protocol) for _ in range(sessions)]
    await asyncio.gather(*(s.open() for s in opened))
    await asyncio.gather(*(s.call_tool(tool, arguments) for s in opened))
    return opened


async def measured(
    server: Server,
    protocol: str,
    sessions: int,
    call: tuple[str, dict[str, Any]],
    drive: Callable[[list[Session], TimedCall], Awaitable[None]],
) -> Samples:
    """Open `sessions` sessions of `protocol`, each called once (`called_once`), then measure
    `drive(sessions, timed_call)`, where `timed_call(session, began)` calls `call` once,
    records its latency from `began` or its error, and returns whether the session can go on."""
    tool, arguments = call
    latencies: list[float] = []
    errors: list[str] = []
    opened = await called_once(server, protocol, sessions, call)

    async def timed_call(session: Session, began: float) -> bool:
        try:
            result = await session.call_tool(tool, arguments)
        except (OSError, asyncio.IncompleteReadError, RuntimeError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            return False
        if result.get("isError"):
            errors.append(str(result.get("content")))
        latencies.append(time.perf_counter() - began)
        return True

    cpu_before = server.cpu_seconds()
    client_cpu_before = time.process_time()
    begin = time.perf_counter()
    await drive(opened, timed_call)
    elapsed = time.perf_counter() - begin
    cpu_used = server.cpu_seconds() - cpu_before
    client_cpu_used = time.process_time() - client_cpu_before
    await asyncio.gather(*(s.close() for s in opened))
    return Samples(latencies, errors, elapsed, cpu_used, client_cpu_used)


async def measure(
    server: Server,
    protocol: str,
    sessions: int,
    seconds: float,
    call: tuple[str, dict[str, Any]],
) -> Samples:
    """Call `call` in a loop from `sessions` concurrent sessions of `protocol` for `seconds`."""

    async def closed_loop(opened: list[Session], timed_call: TimedCall) -> None:
        stop_at = time.perf_counter() + seconds

        async def loop(session: Session) -> None:
            while time.perf_counter() < stop_at:
                if not await timed_call(session, time.perf_counter()):
                    return

        await asyncio.gather(*(loop(s) for s in opened))

    return await measured(server, protocol, sessions, call, closed_loop)


async def measure_at_rate(
    server: Server,
    protocol: str,
    rate: float,
    seconds: float,
    call: tuple[str, dict[str, Any]],
    sessions: int = 16,
) -> Samples:
    """Start `call` `rate` times a second, evenly spaced, for `seconds`, whatever pace the
    answers come at (an open loop, as independent callers arrive), over a pool of `sessions`.

    A call's latency counts from when the schedule sent it out, not from when a free session
    took it, so a server that falls behind is charged for the wait (no coordinated omission);
    how late the event loop's timer woke the schedule is the load generator's, not counted.
    """

    async def open_loop(opened: list[Session], timed_call: TimedCall) -> None:
        idle: asyncio.Queue[Session] = asyncio.Queue()
        for session in opened:
            idle.put_nowait(session)

        async def one(sent: float) -> None:
            session = await idle.get()
            await timed_call(session, sent)
            idle.put_nowait(session)

        begin = time.perf_counter()
        calls: list[asyncio.Task[None]] = []
        for index in range(round(rate * seconds)):
            if (wait := begin + index / rate - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            calls.append(asyncio.create_task(one(time.perf_counter())))
        await asyncio.gather(*calls)

    return await measured(server, protocol, sessions, call, open_loop)


async def measure_with_wrk(
    server: Server,
    protocol: str,
    sessions: int,
    seconds: float,
    call: tuple[str, dict[str, Any]],
) -> Samples:
    """As `measure`, with wrk sending the calls (`wrk_load`): the same sessions, opened and
    called once here, then their exact requests in turn over `sessions` connections. Its
    latencies are each run's quantiles, which pool well enough for p50, p95 and p99."""
    tool, arguments = call
    opened = await called_once(server, protocol, sessions, call)
    host = {"Host": f"127.0.0.1:{server.port}"}
    requests = []
    for session in opened:
        headers, body = session.wire_call(tool, arguments, ID_MARK)
        requests.append(({**headers, **host}, body))
    cpu_before = server.cpu_seconds()
    run = await asyncio.to_thread(run_wrk, server.port, requests, sessions, round(seconds))
    cpu_used = server.cpu_seconds() - cpu_before
    await asyncio.gather(*(s.close() for s in opened))
    return Samples(
        run.latency_quantiles,
        [run.first_error] * run.errors,
        run.seconds,
        cpu_used,
        run.client_cpu,
        run.requests - run.bad_answers,
    )


def compile_bytecode() -> None:
    """Byte-compile the installed packages and our servers, as the images ship them."""
    for directory in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        compileall.compile_dir(directory, quiet=1, workers=0)
    compileall.compile_dir(REPO / "servers", quiet=1)


Loads = dict[str, tuple[Server, tuple[str, dict[str, Any]]]]


def side_by_side(
    servers: Loads,
    protocol: str,
    sessions: int,
    seconds: float,
    rounds: int,
    *,
    rate: float | None = None,
    wrk: bool = False,
    per_round: list[dict[str, Cell]] | None = None,
) -> dict[str, Cell]:
    """One table cell per server: short slices taking turns, so a burst of other load on
    the machine hits every server alike. Each slice has `sessions` calling in a closed loop
    (with `wrk`, sent by wrk), or, given a `rate`, calls starting at that rate over a pool of
    `sessions` (an open loop, `measure_at_rate`). Each round's own cells are appended to
    `per_round`, if given, for ratios taken round by round (`paired_ratio`)."""
    samples = {name: Samples() for name in servers}
    for _ in range(rounds):
        taken: dict[str, Samples] = {}
        for name, (server, call) in servers.items():
            if rate is not None:
                slice_ = measure_at_rate(server, protocol, rate, seconds / rounds, call, sessions)
            elif wrk:
                slice_ = measure_with_wrk(server, protocol, sessions, seconds / rounds, call)
            else:
                slice_ = measure(server, protocol, sessions, seconds / rounds, call)
            taken[name] = asyncio.run(slice_)
            samples[name].add(taken[name])
        if per_round is not None:
            per_round.append({name: slice_taken.cell() for name, slice_taken in taken.items()})
    cells = {name: taken.cell() for name, taken in samples.items()}
    load = f"{sessions:>3} sessions" if rate is None else f"{rate:>5.0f}/s"
    progress(
        f"  {protocol} {load}: "
        + ", ".join(
            f"{name} {cell.calls_per_second:.0f}/s p50 {cell.p50_ms:.2f} ms"
            for name, cell in cells.items()
        )
    )
    return cells


def paired_ratio(rounds: list[dict[str, Cell]], first: str, second: str) -> tuple[float, ...]:
    """`second`'s server CPU per call over `first`'s, taken within each round (the two slices
    of a round run back to back, so load that comes and goes falls on both): the median,
    lowest and highest of the rounds."""
    ratios = sorted(
        cells[second].server_cpu_ms_per_call / cells[first].server_cpu_ms_per_call
        for cells in rounds
    )
    return statistics.median(ratios), ratios[0], ratios[-1]


def startup(peer_list: list[Peer], starts: int) -> dict[str, tuple[float, float]]:
    """Median seconds from process start to its probe answering, and idle RSS a second
    later, over `starts` starts of each peer taking turns, one process at a time."""
    seen: dict[str, list[tuple[float, float]]] = {peer.name: [] for peer in peer_list}
    for _ in range(starts):
        for peer in peer_list:
            with started(peer) as server:
                time.sleep(1)
                seen[peer.name].append((server.seconds_to_ready, server.rss_mib()))
    return {
        name: (statistics.median(r for r, _ in runs), statistics.median(m for _, m in runs))
        for name, runs in seen.items()
    }


def bench(seconds: float, rounds: int, starts: int) -> None:
    compile_bytecode()
    go_peer = build_go_peer()
    with tempfile.TemporaryDirectory(prefix="bench-servers-") as tmp, LoadAverage() as load:
        print(f"start: {load.now()}", flush=True)
        every = peers(tmp, go_peer)
        trivial = [name for name in ("ours", "go-sdk", "stock") if name in every]
        trivial_table: dict[tuple[str, int], dict[str, Cell]] = {}
        todo_table: dict[str, dict[str, Cell]] = {}
        todo_rounds: dict[str, list[dict[str, Cell]]] = {}
        workers_table: dict[tuple[str, str], dict[str, Cell]] = {}
        metrics_port_table: dict[str, dict[str, Cell]] = {}
        log_level_table: dict[str, dict[str, Cell]] = {}
        with ExitStack() as stack:
            running = {name: stack.enter_context(started(every[name])) for name in trivial}
            progress("trivial tool, server CPU per call:")
            for protocol in PROTOCOLS:
                for sessions in CONCURRENCY:
                    loads = {name: (server, ECHO) for name, server in running.items()}
                    trivial_table[protocol, sessions] = side_by_side(
                        loads, protocol, sessions, seconds, rounds
                    )
            todo = stack.enter_context(started(every["todo"]))
            task = ("get_task", {"task_id": asyncio.run(seed_task(todo.port))})
            progress("todo get_task against ours' echo, 10 sessions:")
            for protocol in PROTOCOLS:
                loads = {"ours echo": (running["ours"], ECHO), "todo get_task": (todo, task)}
                # The goal is a ratio, taken pair by pair: more pairs of slices than the
                # other tables have, each slice as long as theirs.
                todo_table[protocol] = side_by_side(
                    loads,
                    protocol,
                    10,
                    seconds * PAIRED_ROUNDS / rounds,
                    PAIRED_ROUNDS,
                    per_round=todo_rounds.setdefault(protocol, []),
                )
            two = stack.enter_context(started(every["ours-2w"]))
            progress("MCP_WORKERS=2 against 1, 100 sessions:")
            for protocol in PROTOCOLS:
                loads = {"1 worker": (running["ours"], ECHO), "2 workers": (two, ECHO)}
                for generator in LOAD_GENERATORS:
                    workers_table[protocol, generator] = side_by_side(
                        loads, protocol, 100, seconds, rounds, wrk=generator == "wrk"
                    )
            own_port = stack.enter_context(started(every["ours-metrics-port"]))
            progress("MCP_METRICS_PORT set against unset, 10 sessions:")
            for protocol in PROTOCOLS:
                loads = {"unset": (running["ours"], ECHO), "set": (own_port, ECHO)}
                metrics_port_table[protocol] = side_by_side(loads, protocol, 10, seconds, rounds)
            at_info = stack.enter_context(started(every["ours-info"]))
            progress("LOG_LEVEL=info against warning, 10 sessions:")
            for protocol in PROTOCOLS:
                loads = {"warning": (running["ours"], ECHO), "info": (at_info, ECHO)}
                log_level_table[protocol] = side_by_side(loads, protocol, 10, seconds, rounds)
        print(f"after the load tables: {load.now()}", flush=True)
        progress(f"start-up, {starts} starts each:")
        start_peers = [
            every[name] for name in ("ours", "todo", "lowlevel", "stock", "go-sdk") if name in every
        ]
        starts_seen = startup(start_peers, starts)
        print(f"end: {load.now()}", flush=True)
        print_tables(
            trivial,
            trivial_table,
            todo_table,
            todo_rounds,
            workers_table,
            metrics_port_table,
            log_level_table,
            starts_seen,
            starts,
        )
        print()
        print(load.summary())


def errors_noted(cells: dict[str, Cell]) -> str:
    noted = [
        f"  {name}: {cell.errors} errors, first: {cell.first_error[:80]}"
        for name, cell in cells.items()
        if cell.errors
    ]
    return "".join(noted)


def print_two_loads(
    table: dict[str, dict[str, Cell]],
    loads: tuple[str, str],
    labels: tuple[str, str],
    comparison: tuple[str, Callable[[str, Cell, Cell], str]],
) -> None:
    """A line per protocol: two loads' calls/s and server CPU per call side by side, then how
    the second compares with the first (`comparison`: its heading, and its value given the
    protocol and the two cells)."""
    heading, compare = comparison
    width = max(14, len(heading) + 2)
    header = f"{'protocol':<11} |" + "".join(f"{label + ' /s':>13}{'cpu':>6} |" for label in labels)
    header += f"{heading:>{width}}"
    print(header)
    print("-" * len(header))
    for protocol, cells in table.items():
        first, second = cells[loads[0]], cells[loads[1]]
        line = f"{protocol:<11} |"
        for cell in (first, second):
            line += f"{cell.calls_per_second:>13.0f}{cell.server_cpu_ms_per_call:>6.2f} |"
        print(line + f"{compare(protocol, first, second):>{width}}" + errors_noted(cells))


def print_tables(
    trivial: list[str],
    trivial_table: dict[tuple[str, int], dict[str, Cell]],
    todo_table: dict[str, dict[str, Cell]],
    todo_rounds: dict[str, list[dict[str, Cell]]],
    workers_table: dict[tuple[str, str], dict[str, Cell]],
    metrics_port_table: dict[str, dict[str, Cell]],
    log_level_table: dict[str, dict[str, Cell]],
    starts_seen: dict[str, tuple[float, float]],
    starts: int,
) -> None:
    print()
    print("1. Trivial tool (`echo`), one process each, load from one client process on 127.0.0.1.")
    print("   cpu = server CPU ms per call (robust to other load); /s = calls per second;")
    print("   stock/ours = how many times ours' CPU per call stock spends; client = load")
    print("   generator CPU ms per call.")
    header = f"{'protocol':<11}{'sessions':>8} |" + "".join(
        f"{name + ' /s':>14}{'p95':>7}{'cpu':>6} |" for name in trivial
    )
    header += f"{'stock/ours':>11}{'ours/go':>8} |{'client':>7}"
    print(header)
    print("-" * len(header))
    for (protocol, sessions), cells in trivial_table.items():
        line = f"{protocol:<11}{sessions:>8} |"
        for name in trivial:
            cell = cells[name]
            line += (
                f"{cell.calls_per_second:>14.0f}{cell.p95_ms:>7.1f}"
                f"{cell.server_cpu_ms_per_call:>6.2f} |"
            )
        ours = cells["ours"].server_cpu_ms_per_call
        stock = cells["stock"].server_cpu_ms_per_call
        go = cells["go-sdk"].server_cpu_ms_per_call if "go-sdk" in cells else float("nan")
        line += f"{stock / ours:>10.1f}x{ours / go:>7.2f}x |"
        line += f"{cells['ours'].client_cpu_ms_per_call:>7.2f}"
        print(line + errors_noted(cells))
    print()
    print("2. The todo server's get_task (SQLite) against ours' trivial echo, 10 sessions;")
    print("   get_task/echo = its CPU per call over echo's (the goal: at most 1.2x), the median")
    print(f"   of {PAIRED_ROUNDS} rounds, each a slice of both back to back (lowest-highest).")

    def against_echo(protocol: str, echo: Cell, task: Cell) -> str:
        median, lowest, highest = paired_ratio(todo_rounds[protocol], "ours echo", "todo get_task")
        extra = task.server_cpu_ms_per_call - echo.server_cpu_ms_per_call
        return f"{extra:+.3f}ms{median:>7.2f}x ({lowest:.2f}-{highest:.2f})"

    print_two_loads(
        todo_table,
        ("ours echo", "todo get_task"),
        ("echo", "get_task"),
        ("extra cpu, get_task/echo", against_echo),
    )
    print()
    cores = os.cpu_count() or 1
    print("3. MCP_WORKERS=2 against 1 (ours, echo), 100 sessions; cpu sums all processes.")
    print("   load = the bench's own generator (python) or wrk sending the same requests.")
    print("   p99: wrk opens its 100 connections at once each slice; their first calls wait no")
    print("   longer than the rest only because the runtime accepts every waiting connection per")
    print("   wake-up (mcp_runtime.accepting; uvloop's own server took one per turn of the loop).")
    print(f"   ceiling = the most 2w/1w this machine allows: all {cores} cores spent on the two")
    print("   workers and the load generator at their CPU per call, against 1w's calls/s.")
    header = (
        f"{'protocol':<11}{'load':>7} |{'1w /s':>7}{'p99':>7}{'cpu':>6} |"
        f"{'2w /s':>7}{'p99':>7}{'cpu':>6} |{'2w/1w':>6}{'ceiling':>8} |{'client':>7}"
    )
    print(header)
    print("-" * len(header))
    for (protocol, generator), cells in workers_table.items():
        one, two = cells["1 worker"], cells["2 workers"]
        ceiling = cores * 1000 / (two.server_cpu_ms_per_call + two.client_cpu_ms_per_call)
        print(
            f"{protocol:<11}{generator:>7} |{one.calls_per_second:>7.0f}{one.p99_ms:>7.1f}"
            f"{one.server_cpu_ms_per_call:>6.2f} |{two.calls_per_second:>7.0f}{two.p99_ms:>7.1f}"
            f"{two.server_cpu_ms_per_call:>6.2f} |"
            f"{two.calls_per_second / one.calls_per_second:>5.2f}x"
            f"{ceiling / one.calls_per_second:>7.2f}x |"
            f"{two.client_cpu_ms_per_call:>7.2f}" + errors_noted(cells)
        )
    print()
    print("4. /metrics on a port of its own (MCP_METRICS_PORT, as the chart runs every server)")
    print("   against on the MCP port (unset), ours' echo, 10 sessions.")
    print_two_loads(
        metrics_port_table,
        ("unset", "set"),
        ("unset", "set"),
        (
            "set/unset cpu",
            lambda _, unset, own: (
                f"{own.server_cpu_ms_per_call / unset.server_cpu_ms_per_call:.2f}x"
            ),
        ),
    )
    print()
    print("5. LOG_LEVEL=info, the servers' default (a `tool_call` line per call), against warning")
    print("   (every other table's), ours' echo, 10 sessions.")
    print_two_loads(
        log_level_table,
        ("warning", "info"),
        ("warning", "info"),
        (
            "info/warning cpu",
            lambda _, warning, info: (
                f"{info.server_cpu_ms_per_call / warning.server_cpu_ms_per_call:.2f}x"
            ),
        ),
    )
    print()
    print(f"6. Start-up (median of {starts} starts, one at a time) and idle RSS a second later.")
    print("   ours and todo: start to /ready 200; lowlevel and stock (no /ready): start to the")
    print("   first HTTP answer; go-sdk: start to its /ready.")
    print(f"{'server':<10}{'ready s':>9}{'idle RSS MiB':>14}")
    for name, (ready, rss) in starts_seen.items():
        print(f"{name:<10}{ready:>9.2f}{rss:>14.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="load time per server per cell")
    parser.add_argument(
        "--rounds", type=int, default=3, help="slices per cell, alternating between the servers"
    )
    parser.add_argument("--starts", type=int, default=5, help="starts of each server; median")
    args = parser.parse_args()
    bench(args.seconds, args.rounds, args.starts)


if __name__ == "__main__":
    main()
