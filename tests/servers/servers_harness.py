"""Start the fleet's servers as real processes on 127.0.0.1 and talk to them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent

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
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def ready_status(self) -> int:
        return httpx.get(f"{self.base_url}/ready", timeout=5).status_code

    def wait_ready(self, expected: int = 200, timeout: float = START_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited {self.process.returncode}:\n{self.log_text()}")
            try:
                status = self.ready_status()
                if status == expected:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"/ready stayed {status}, not {expected}:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(port: int, extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment minus any MCP settings of its own, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MCP_", "DATABASE_URL", "LOG_LEVEL"))
    }
    env.update({"MCP_HOST": "127.0.0.1", "MCP_PORT": str(port), "LOG_LEVEL": "info"})
    env.update(extra)
    return env


def launch(
    script: str, log_dir: Path, env: Mapping[str, str], *, wait: bool = True
) -> RunningServer:
    """Start a console script (`mcp-todo`, `mcp-postgres`) and wait until /health answers."""
    port = free_port()
    log_path = log_dir / f"{script}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(VENV_BIN / script)],
            env=server_env(port, env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(process=process, port=port, log_path=log_path)
    if wait:
        try:
            _wait_health(server)
        except BaseException:
            server.stop()
            raise
    return server


def _wait_health(server: RunningServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited {server.process.returncode}:\n{server.log_text()}")
        try:
            httpx.get(f"{server.base_url}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"server did not answer /health in {START_TIMEOUT_SECONDS} s")
