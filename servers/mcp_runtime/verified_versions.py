"""The FastMCP and MCP SDK releases whose internals the runtime was checked against.

The fast path (`mcp_runtime.fast_path_gate`) and the deferred imports
(`mcp_runtime.deferred_imports`) read FastMCP's and the SDK's code as it is in exactly
these releases; on any other they stand aside and the server runs plain FastMCP.
pyproject.toml pins the same versions.
"""

from __future__ import annotations

# The import package `fastmcp` (the fastmcp-slim distribution) and the SDK's two distributions.
VERIFIED_VERSIONS: dict[str, str] = {"fastmcp": "4.2.3", "mcp": "2.3.0", "mcp-types": "2.3.0"}
