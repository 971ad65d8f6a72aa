"""File locks and run-wide results the processes of one checkout share: the pytest-xdist
workers of a run, a benchmark beside a test run, two runs at once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / ".run" / "locks"


@contextmanager
def locked(name: str) -> Iterator[None]:
    """Hold the checkout's exclusive lock `name` (.run/locks/NAME.lock) until the block ends."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    with (LOCKS / f"{name}.lock").open("a") as handle:
        # Released when the file closes, also when the holder dies.
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
