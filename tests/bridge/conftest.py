"""Fixtures: bridges as real processes, and the community stdio servers they bridge."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from harness.bridge import RunningBridge, StartBridge, process_group_exists, start_bridge

# Pinned community servers; installed once into .run/bridge and reused by later runs.
TIME_SERVER_VERSION = "2026.10.19"
EVERYTHING_VERSION = "2026.8.31"


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
def time_server(run_dir: Path) -> list[str]:
    """The command of PyPI's `mcp-server-time`, in a virtualenv of its own."""
    venv = run_dir / f"mcp-server-time-{TIME_SERVER_VERSION}"
    executable = venv / "bin" / "mcp-server-time"
    done = venv / ".installed"
    if not done.exists():
        uv = shutil.which("uv")
        assert uv is not None, "uv not found: run `make tools`"
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                f"mcp-server-time=={TIME_SERVER_VERSION}",
            ],
            check=True,
            timeout=600,
        )
        done.touch()
    return [str(executable), "--local-timezone", "UTC"]


@pytest.fixture(scope="session")
def everything_server(repo_root: Path) -> list[str]:
    """The command of npm's `@modelcontextprotocol/server-everything`."""
    prefix = repo_root / ".run" / "npm"
    package = prefix / "node_modules" / "@modelcontextprotocol" / "server-everything"
    installed = package / "package.json"
    if not (
        installed.exists() and json.loads(installed.read_text())["version"] == EVERYTHING_VERSION
    ):
        npm = shutil.which("npm")
        assert npm is not None, "npm not found; install Node.js 20+ (apt-get install -y nodejs npm)"
        subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                f"@modelcontextprotocol/server-everything@{EVERYTHING_VERSION}",
            ],
            check=True,
            timeout=600,
        )
    return [str(prefix / "node_modules" / ".bin" / "mcp-server-everything")]
