"""Run `mcp-bridge` as a real process on 127.0.0.1 and read what it logged."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from harness.processes import ServerProcess, free_port

FAKE_SERVER = Path(__file__).resolve().parents[2] / "tests" / "bridge" / "fake_stdio_server.py"
# What `mcp-bridge` runs (the console script's entry point), with the interpreter of the tests.
BRIDGE = [sys.executable, "-m", "mcp_bridge"]
# How long a condition the bridge must reach may take on a busy 2-core machine.
WAIT_SECONDS = 60.0
_POLL_SECONDS = 0.05


def fake_server(*flags: str) -> list[str]:
    """The command of the test's fake stdio server, with its misbehaviour flags."""
    return [sys.executable, str(FAKE_SERVER), *flags]


class RunningBridge(ServerProcess):
    """A bridge process; its JSON log lines are read back as events."""

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") == name:
                found.append(record)
        return found

    def wait_for_event(self, name: str, count: int = 1) -> dict[str, Any]:
        """The `count`-th event `name` (waiting for it); fails with the log if it never comes."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if len(found := self.events(name)) >= count:
                return found[count - 1]
            if self.process.poll() is not None and len(self.events(name)) < count:
                break
            time.sleep(_POLL_SECONDS)
        raise AssertionError(f"no {count} x {name!r} event; the log:\n{self.log_text()[-6000:]}")

    def ready(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/ready", timeout=10)
        return response.status_code, response.json()

    def wait_for_ready_reason(self, fragment: str) -> str:
        """Wait until /ready is 503 with a reason containing `fragment`; that reason."""
        deadline = time.monotonic() + WAIT_SECONDS
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, seen = self.ready()
            if status == 503 and fragment in seen.get("reason", ""):
                return str(seen["reason"])
            time.sleep(_POLL_SECONDS)
        raise AssertionError(f"/ready never said {fragment!r}; last: {seen}\n{self.log_text()}")

    def child_pids(self) -> list[int]:
        """Every child the bridge started, in order."""
        return [event["pid"] for event in self.events("bridge_child_started")]

    def wait_exit(self) -> int:
        return self.process.wait(timeout=WAIT_SECONDS)


def start_bridge(
    log_dir: Path,
    command: Sequence[str] | None,
    env: Mapping[str, str] | None = None,
) -> RunningBridge:
    """Start `mcp-bridge -- COMMAND` (or with MCP_BRIDGE_COMMAND from `env` alone)."""
    port = free_port()
    argv = [*BRIDGE, "--", *command] if command else list(BRIDGE)
    bridge = RunningBridge(argv, env, log_dir / f"bridge-{port}.log", port)
    return bridge.start()


def process_group_exists(pgid: int) -> bool:
    """Whether any process, zombies included, is left in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_exists(pid: int) -> bool:
    """Whether `pid` is a process, a zombie included (its /proc entry stays until reaped)."""
    return Path(f"/proc/{pid}").exists()


StartBridge = Callable[..., RunningBridge]
