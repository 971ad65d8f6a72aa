"""A real `mcp-memory` process on a loopback port, for the memory tests and the benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastmcp import Client

STARTUP_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MemoryProcess:
    """One `python -m mcp_memory` process; its stdout (JSON logs) goes to `log_path`."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Client:
        return Client(f"{self.url}/mcp", timeout=60)

    def start(self) -> MemoryProcess:
        env = {
            **os.environ,
            "MCP_HOST": "127.0.0.1",
            "MCP_PORT": str(self.port),
            **self.env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_memory"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        return self

    def wait_ready(self) -> float:
        """Seconds from now until /ready answers 200; fails with the log on exit or timeout."""
        started = time.monotonic()
        while time.monotonic() - started < STARTUP_TIMEOUT_SECONDS:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"mcp-memory exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(f"mcp-memory not ready after {STARTUP_TIMEOUT_SECONDS} s:\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM, as Kubernetes does; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


StartServer = Callable[..., MemoryProcess]
