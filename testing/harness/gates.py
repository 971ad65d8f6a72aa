"""Files a test tool leaves beside its gate (`<gate>.entered`, `<gate>.cancelled`), waited for."""

from __future__ import annotations

import time
from pathlib import Path


def marker(gate: Path, what: str) -> Path:
    """The file a gated tool creates beside `gate` when `what` happened to its call."""
    return gate.with_name(f"{gate.name}.{what}")


def wait_for(path: Path, timeout: float = 5.0) -> bool:
    """Whether `path` exists within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
