"""Fixtures: a real mcp-todo on SQLite, the flaky server, and backend clients of them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from itertools import count
from pathlib import Path

import pytest
from harness import runtime, servers
from harness.processes import ServerProcess
from mcp_backend_client import BackendClient, Resilience, Server

FLAKY_SERVER = Path(__file__).with_name("flaky_server.py")

# Short, so that a failure costs the tests little, yet long enough for a busy 2-core machine
# to answer a call that is not meant to fail, a retry on a new session included (a slower
# retry would shift the flaky server's call numbers); the flaky server sleeps 4 s.
FAST = Resilience(
    timeout_seconds=1.5,
    retry_attempts=3,
    retry_initial_seconds=0.02,
    retry_max_seconds=0.1,
    breaker_failure_threshold=3,
    breaker_reset_seconds=1.0,
)

# Each client's metrics under a name of its own.
_names = count()


def unique_name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


@pytest.fixture(scope="session")
def todo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Shared by every test of a worker that leaves it running: each makes tasks of its own."""
    logs = tmp_path_factory.mktemp("todo")
    server = servers.launch("mcp-todo", logs, {"MCP_DATA_DIR": str(logs / "data")})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def flaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = runtime.launch(
        tmp_path_factory.mktemp("flaky"), {}, [sys.executable, str(FLAKY_SERVER)]
    )
    yield server
    server.kill()  # calls may still be sleeping: no drain to wait for


@pytest.fixture
async def flaky_client(flaky: ServerProcess) -> AsyncIterator[BackendClient]:
    server = Server(name=unique_name("flaky"), url=flaky.base_url, resilience=FAST)
    async with BackendClient(server) as client:
        yield client
