"""Shared runtime for the fleet's MCP servers: a server is only its tools (see README.md)."""

from mcp_runtime.app import MCP_PATH, PACKAGE_VERSION, ServerSpec, build_app
from mcp_runtime.probes import ReadinessCheck
from mcp_runtime.serve import run
from mcp_runtime.settings import RuntimeSettings, SettingsLoadError, load_settings

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
