"""Run servers on the shared runtime as real uvicorn processes on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from harness import processes
from harness.processes import ServerProcess, free_port

SAMPLE_SERVER = Path(__file__).resolve().parents[2] / "tests" / "runtime" / "sample_server.py"

StartServer = Callable[..., ServerProcess]


def launch(log_dir: Path, env: Mapping[str, str], command: list[str] | None) -> ServerProcess:
    """Start a server process (the sample server unless `command` is given) and wait for it."""
    port = free_port()
    return processes.launch(
        command or [sys.executable, str(SAMPLE_SERVER)],
        env,
        log_dir / f"server-{port}.log",
        port=port,
    )
