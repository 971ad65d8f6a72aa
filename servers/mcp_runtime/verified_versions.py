"""The FastMCP and MCP SDK releases whose internals the runtime was checked against.

The fast path (`mcp_runtime.fast_path_gate`), the deferred imports
(`mcp_runtime.deferred_imports`) and the deferred model builds
(`mcp_runtime.deferred_model_builds`) read FastMCP's and the SDK's code as it is in exactly
these releases; on any other they stand aside and the server runs plain FastMCP.
pyproject.toml pins the same versions.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# The import package `fastmcp` (the fastmcp-slim distribution) and the SDK's two distributions.
VERIFIED_VERSIONS: dict[str, str] = {"fastmcp": "4.2.3", "mcp": "2.3.0", "mcp-types": "2.3.0"}


def installed_version(distribution: str) -> str | None:
    """The installed version of `distribution`; None when it is not installed."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
