"""Run servers on the shared runtime as real uvicorn processes on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

SAMPLE_SERVER = Path(__file__).with_name("sample_server.py")

# Importing FastMCP takes a few seconds on a busy 2-core machine.
START_TIMEOUT_SECONDS = 60


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def metric(self, series: str) -> float:
        """Value of one series (name with labels, as exposed) from /metrics."""
        text = httpx.get(f"{self.base_url}/metrics").text
        for line in text.splitlines():
            name, _, value = line.rpartition(" ")
            if name == series:
                return float(value)
        raise AssertionError(f"{series} not in /metrics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without MCP settings of its own, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MCP_", "DATABASE_URL", "LOG_LEVEL"))
    }
    env.update({"MCP_HOST": "127.0.0.1", "MCP_PORT": str(port), "LOG_LEVEL": "info"})
    env.update(extra)
    return env


def wait_until_serving(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(
                f"server exited with {server.process.returncode}:\n{server.log_text()}"
            )
        try:
            httpx.get(f"{server.base_url}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"server did not answer /health in {START_TIMEOUT_SECONDS} s")


def launch(log_dir: Path, env: Mapping[str, str], command: list[str] | None) -> RunningServer:
    """Start a server process (the sample server unless `command` is given) and wait for it."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command or [sys.executable, str(SAMPLE_SERVER)],
            env=server_env(port, env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(process=process, port=port, log_path=log_path)
    try:
        wait_until_serving(server)
    except BaseException:
        stop(server)
        raise
    return server


def stop(server: RunningServer) -> None:
    if server.process.poll() is None:
        server.process.kill()
    server.process.wait()


StartServer = Callable[..., RunningServer]
