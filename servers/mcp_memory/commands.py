"""The memory server's commands besides serving (`python -m mcp_memory import|export FILE`)
and how each ends: its own exit status, 2 naming a bad setting, 130 when interrupted."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from mcp_runtime import SettingsLoadError

COMMANDS = ("import", "export")
# What an interrupted command leaves, and so what to do next.
AFTER_INTERRUPT = {
    "import": "run the same command again to resume",
    "export": "nothing was written; run it again",
}


def run_command(name: str, argv: list[str]) -> int:
    """Run command `name` (one of COMMANDS) with its arguments; returns its exit status."""
    command: Callable[[list[str]], Awaitable[int]]
    # Imported here: an export needs neither the model nor the import's write path.
    if name == "import":
        from mcp_memory.bulk_import import run_import as command
    else:
        from mcp_memory.export import run_export as command
    try:
        return asyncio.run(command(argv))
    except SettingsLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted: {AFTER_INTERRUPT[name]}", file=sys.stderr)
        return 130
