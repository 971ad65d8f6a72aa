"""Shared runtime for the fleet's MCP servers: a server is only its tools (see README.md)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mcp_runtime.deferred_imports import defer_unused_imports
from mcp_runtime.deferred_model_builds import defer_model_builds
from mcp_runtime.structlog_import import import_structlog_without_rich

# Here, because every server's entry point imports this package before anything that
# imports FastMCP or structlog.
defer_unused_imports()
defer_model_builds()
import_structlog_without_rich()

if TYPE_CHECKING:
    from mcp_runtime.app import MCP_PATH, PACKAGE_VERSION, ServerSpec, build_app
    from mcp_runtime.probes import ReadinessCheck
    from mcp_runtime.serve import run
    from mcp_runtime.settings import RuntimeSettings, SettingsLoadError, load_settings

# The module each public name comes from, imported on first use: code that needs one module
# of the runtime (a server's tool helpers, say) does not load the whole HTTP stack.
_EXPORTS = {
    "MCP_PATH": "mcp_runtime.app",
    "PACKAGE_VERSION": "mcp_runtime.app",
    "ReadinessCheck": "mcp_runtime.probes",
    "RuntimeSettings": "mcp_runtime.settings",
    "ServerSpec": "mcp_runtime.app",
    "SettingsLoadError": "mcp_runtime.settings",
    "build_app": "mcp_runtime.app",
    "load_settings": "mcp_runtime.settings",
    "run": "mcp_runtime.serve",
}

__all__ = [
    "MCP_PATH",
    "PACKAGE_VERSION",
    "ReadinessCheck",
    "RuntimeSettings",
    "ServerSpec",
    "SettingsLoadError",
    "build_app",
    "load_settings",
    "run",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
