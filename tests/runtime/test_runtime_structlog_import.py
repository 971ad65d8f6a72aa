"""structlog is imported without rich, and rich stays whole for others."""

from __future__ import annotations

import subprocess
import sys

# A fresh interpreter: in the test process structlog is imported long before this runs.
CHECK = """
import sys
import mcp_runtime
import structlog.dev
import structlog.tracebacks
hidden = {"rich", "pygments", "attr"} & set(sys.modules)
assert not hidden, hidden
assert structlog.dev.rich is None and structlog.tracebacks.rich is None
import rich.traceback
assert rich.traceback.Traceback
try:
    raise ValueError("boom")
except ValueError:
    event = {"event": "e", "exc_info": True}
    rendered = structlog.dev.ConsoleRenderer(colors=False)(None, "error", event)
assert "ValueError: boom" in rendered, rendered
"""

ALREADY_IMPORTED = """
import sys
import structlog.dev
import mcp_runtime
assert "rich.traceback" in sys.modules and structlog.dev.rich is not None
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_structlog_loads_without_rich_which_stays_importable() -> None:
    finished = _run(CHECK)
    assert finished.returncode == 0, finished.stderr


def test_a_structlog_imported_before_the_runtime_is_left_as_it_is() -> None:
    finished = _run(ALREADY_IMPORTED)
    assert finished.returncode == 0, finished.stderr
