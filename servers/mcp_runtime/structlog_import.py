"""structlog, imported without the rich console extras that JSON logs never use.

When rich is installed (FastMCP depends on it), importing structlog loads rich's traceback
renderer and pretty-printer, and with them pygments and attrs, for structlog's development
console: about 30 ms of every server's start-up and 3 MiB, for a renderer the runtime
never uses (its logs are JSON, `mcp_runtime.logs`). Those two rich modules are hidden while
structlog is imported, so structlog takes rich as absent, a case its own code handles; rich
stays importable afterwards for FastMCP's logging, which needs only its console.
"""

from __future__ import annotations

import importlib
import sys

_RICH_EXTRAS = ("rich.traceback", "rich.pretty")


def import_structlog_without_rich_extras() -> None:
    """Import structlog, unless something already has, without rich's traceback and pretty."""
    if "structlog" in sys.modules:
        return
    hidden = [name for name in _RICH_EXTRAS if name not in sys.modules]
    # A None entry makes `import name` raise ImportError, as for an uninstalled module.
    sys.modules.update(dict.fromkeys(hidden))
    try:
        importlib.import_module("structlog")
    finally:
        for name in hidden:
            if sys.modules.get(name, name) is None:
                del sys.modules[name]
