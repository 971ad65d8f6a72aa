"""structlog, imported without rich, which only its development console uses.

When rich is installed (FastMCP depends on it), importing structlog loads rich's console,
traceback renderer and pretty-printer, and with them pygments and attrs, for structlog's
development console: about 60 ms of every server's start-up and 5 MiB, for a renderer the
runtime never uses (its logs are JSON, `mcp_runtime.logs`). rich is hidden while structlog
is imported, so structlog takes it as absent, a case its own code handles; rich stays
importable afterwards for whatever does use it. When something imported part of rich
already, the parts not yet imported are hidden.
"""

from __future__ import annotations

import importlib
import sys

_RICH = ("rich", "rich.console", "rich.traceback", "rich.pretty")


def import_structlog_without_rich() -> None:
    """Import structlog, unless something already has, with rich hidden."""
    if "structlog" in sys.modules:
        return
    hidden = [name for name in _RICH if name not in sys.modules]
    # A None entry makes `import name` raise ImportError, as for an uninstalled module.
    sys.modules.update(dict.fromkeys(hidden))
    try:
        importlib.import_module("structlog")
    finally:
        for name in hidden:
            if sys.modules.get(name, name) is None:
                del sys.modules[name]
