"""scripts/postgres.sh, the project's private PostgreSQL, as the tests call it."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres.sh"


def postgres_script(command: str) -> str:
    """What `postgres.sh COMMAND` prints (start, url, reader-url, ...); raises if it fails."""
    result = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"postgres.sh {command} exited {result.returncode}: {result.stderr}")
    return result.stdout.strip()
