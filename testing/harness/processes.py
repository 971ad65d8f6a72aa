"""Server processes on a free loopback port: start, wait until they answer, stop with SIGTERM."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Self

import httpx

LOOPBACK = "127.0.0.1"
# Importing FastMCP takes a few seconds on a busy 2-core machine.
START_TIMEOUT_SECONDS = 60.0
# Short enough that benchmarks can time the start to a few hundredths of a second.
POLL_SECONDS = 0.02
# How much of a failed server's output an error message quotes.
OUTPUT_TAIL_CHARS = 4000


class ServerNotAnswering(AssertionError):
    """The server exited, or did not answer as expected in time; the message holds its output."""


# Ports lately handed out, one `PORT TIME` line each. Machine-wide, as ports are: test runs of
# other checkouts (a CI clone, a worktree) and benchmarks pick theirs from the same kernel.
PORT_LEASES = Path(tempfile.gettempdir()) / "mcp-servers-port-leases"
# Longer than any server or PostgreSQL here takes from being handed its port to listening.
PORT_LEASE_SECONDS = 180.0


def free_port() -> int:
    """A loopback port nothing listens on and that was not handed out lately.

    bind(0) alone does not do when tests run in parallel: the port is free only until the
    server it is meant for listens, and in between another worker's bind(0) may pick it too
    (two servers with MCP_WORKERS would then share it, SO_REUSEPORT, without an error).
    """
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if lease(port):
            return port
    raise RuntimeError(f"no free loopback port outside the leases in {PORT_LEASES}")


def lease(*ports: int) -> bool:
    """Hand out `ports` together, when each is free and not leased; False otherwise."""
    descriptor = os.open(PORT_LEASES, os.O_RDWR | os.O_CREAT, 0o666)
    if os.fstat(descriptor).st_uid == os.getuid():
        os.fchmod(descriptor, 0o666)  # past the umask: other users' test runs lease here too
    with open(descriptor, "r+", encoding="ascii") as leases_file:
        # Released when the file closes, also when the holder dies.
        fcntl.flock(leases_file, fcntl.LOCK_EX)
        now = time.time()
        leases: dict[int, float] = {}
        for line in leases_file.read().splitlines():
            try:
                port, since = int(line.split()[0]), float(line.split()[1])
            except (IndexError, ValueError):
                continue  # a line a killed writer left half-written
            if now - since < PORT_LEASE_SECONDS:
                leases[port] = since
        if any(port in leases or not _bindable(port) for port in ports):
            return False
        leases.update(dict.fromkeys(ports, now))
        leases_file.seek(0)
        leases_file.truncate()
        leases_file.write("".join(f"{port} {since}\n" for port, since in leases.items()))
        return True


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def server_env(port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment minus any MCP settings of its own, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MCP_", "DATABASE_URL", "LOG_LEVEL"))
    }
    env.update({"MCP_HOST": LOOPBACK, "MCP_PORT": str(port), "LOG_LEVEL": "info"})
    env.update(extra)
    return env


class ServerProcess:
    """One server process listening on `port`; its stdout and stderr go to `log_path`.

    Without a `log_path` the output is discarded (benchmarks, where writing it would cost
    the server CPU). Used as a context manager it is started on entry and stopped on exit.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        port: int | None = None,
    ) -> None:
        self.argv = list(argv)
        self.port = port if port is not None else free_port()
        self.env = server_env(self.port, env or {})
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError(f"{self.argv} was not started")
        return self._process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    @property
    def metrics_url(self) -> str:
        """Where the server serves /metrics: on MCP_METRICS_PORT when it has one."""
        port = self.env.get("MCP_METRICS_PORT")
        return f"http://{LOOPBACK}:{port}/metrics" if port else f"{self.base_url}/metrics"

    def start(self) -> Self:
        if self._process is not None:
            # A second process would outlive every stop() and kill(), which see only this one.
            raise RuntimeError(f"{self.argv[0]} was started already (pid {self._process.pid})")
        self._started_at = time.monotonic()
        if self.log_path is None:
            self._process = subprocess.Popen(
                self.argv, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            return self
        # The child keeps its own copy of the descriptor.
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_answering(
        self,
        path: str = "/health",
        statuses: Collection[int] | None = None,
        timeout: float = START_TIMEOUT_SECONDS,
    ) -> float:
        """Seconds from start until GET `path` answers (with one of `statuses`, if given)."""
        deadline = time.monotonic() + timeout
        status: int | None = None
        with httpx.Client(timeout=5) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerNotAnswering(
                        f"{self.argv} exited {self.process.returncode}:\n{self._output_tail()}"
                    )
                try:
                    status = http.get(f"{self.base_url}{path}").status_code
                    if statuses is None or status in statuses:
                        return time.monotonic() - self._started_at
                except httpx.TransportError:
                    pass
                time.sleep(POLL_SECONDS)
        expected = "any answer" if statuses is None else sorted(statuses)
        raise ServerNotAnswering(
            f"{path} of {self.argv} answered {status}, not {expected}, within {timeout} s:\n"
            f"{self._output_tail()}"
        )

    def wait_ready(self, expected: int = 200, timeout: float = START_TIMEOUT_SECONDS) -> float:
        """Seconds from start until /ready answers `expected`."""
        return self.wait_until_answering("/ready", {expected}, timeout)

    def ready_status(self) -> int:
        return httpx.get(f"{self.base_url}/ready", timeout=5).status_code

    def metric(self, series: str) -> float:
        """Value of one series (name with labels, as exposed) from /metrics."""
        text = httpx.get(self.metrics_url, timeout=5).text
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        raise AssertionError(f"{series} not in /metrics")

    def terminate(self) -> None:
        """SIGTERM, as Kubernetes sends it, without waiting for the exit."""
        self.process.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL if the server is still running after `timeout`; the exit code."""
        if self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> int:
        """SIGKILL: for teardown, where a graceful drain would only cost time."""
        if self.process.poll() is None:
            self.process.kill()
        return self.process.wait()

    def __enter__(self) -> Self:
        # `with launch(...)`: launch() has started it already.
        return self if self._process is not None else self.start()

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self.stop()

    def _output_tail(self) -> str:
        if self.log_path is None:
            return "(output discarded)"
        return self.log_text()[-OUTPUT_TAIL_CHARS:]


def launch(
    argv: Sequence[str],
    env: Mapping[str, str],
    log_path: Path | None = None,
    port: int | None = None,
) -> ServerProcess:
    """Start a server and wait until /health answers; a server that does not is killed."""
    server = ServerProcess(argv, env, log_path, port).start()
    try:
        server.wait_until_answering("/health")
    except BaseException:
        server.kill()
        raise
    return server
