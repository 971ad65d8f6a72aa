"""A real `mcp-memory` process on a loopback port, for the memory tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from fastmcp import Client

from harness.processes import ServerProcess


class MemoryProcess(ServerProcess):
    """One `python -m mcp_memory` process; its output (JSON logs) goes to `log_path`."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        super().__init__([sys.executable, "-m", "mcp_memory"], env, log_path)

    @property
    def url(self) -> str:
        return self.base_url

    def client(self) -> Client:
        return Client(self.mcp_url, timeout=60)

    def log(self) -> str:
        return self.log_text()


StartServer = Callable[..., MemoryProcess]
