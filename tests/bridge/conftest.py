"""Fixtures: bridges as real processes, and the community stdio servers they bridge."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from harness.bridge import RunningBridge, StartBridge, process_group_exists, start_bridge
from harness.catalog import stdio_command


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[StartBridge]:
    """`bridge(command, env={...}, ready=True)`: a bridge that lives for one test.

    Teardown stops it with SIGTERM (so it stops its child) and then makes sure no child
    process group it started is left, whatever the test did.
    """
    started: list[RunningBridge] = []

    def start(
        command: Sequence[str] | None,
        env: Mapping[str, str] | None = None,
        ready: bool = True,
    ) -> RunningBridge:
        running = start_bridge(tmp_path, command, env)
        started.append(running)
        running.wait_until_answering("/health")
        if ready:
            running.wait_ready()
        return running

    yield start
    for running in started:
        running.stop()
        for pgid in running.child_pids():
            if process_group_exists(pgid):
                os.killpg(pgid, signal.SIGKILL)


@pytest.fixture(scope="session")
def run_dir(repo_root: Path) -> Path:
    path = repo_root / ".run" / "bridge"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def time_server() -> list[str]:
    """The command of PyPI's `mcp-server-time`, the catalog's pin, in a virtualenv of its own."""
    return stdio_command("time")


@pytest.fixture(scope="session")
def everything_server() -> list[str]:
    """The command of npm's `@modelcontextprotocol/server-everything`, the catalog's pin."""
    return stdio_command("everything")
