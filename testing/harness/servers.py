"""Start the fleet's servers (`mcp-todo`, `mcp-postgres`) as real processes on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from harness import processes
from harness.processes import ServerProcess

VENV_BIN = Path(sys.executable).parent


def launch(script: str, log_dir: Path, env: Mapping[str, str]) -> ServerProcess:
    """Start a console script of the venv and wait until /health answers."""
    port = processes.free_port()
    return processes.launch(
        [str(VENV_BIN / script)], env, log_dir / f"{script}-{port}.log", port=port
    )
