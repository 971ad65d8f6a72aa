"""The private FastMCP and MCP SDK names the runtime itself (not its fast path) relies on.

Each is a hook FastMCP does not expose: the low-level server, the session manager's open
sessions, and the RSA key import FastMCP's JWT verifier does per token. Kept here, in one
place, so a new release is checked against one module
(`tests/runtime/test_runtime_private_api.py`); the fast path's own are in
`mcp_runtime.fast_path.private_api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastmcp import FastMCP
    from fastmcp.server.low_level import LowLevelServer
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("fastmcp.server.auth.providers.jwt", "_import_key_for_algorithm"),
)

PRIVATE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("FastMCP", "_mcp_server"),
    ("StreamableHTTPSessionManager", "_server_instances"),
)


def lowlevel_server(mcp: FastMCP) -> LowLevelServer:
    """The MCP SDK server FastMCP dispatches to; FastMCP's only handle on it is private."""
    return mcp._mcp_server


def open_sessions(manager: StreamableHTTPSessionManager) -> int:
    """How many stateful sessions the SDK's session manager holds open."""
    return len(manager._server_instances)


def import_jwt_key(value: str, algorithm: str) -> Any:
    """The key import FastMCP's JWTVerifier does for every token; raises as it does.

    Imported on call: only servers with JWT auth load the JOSE and crypto stack.
    """
    from fastmcp.server.auth.providers.jwt import _import_key_for_algorithm

    return _import_key_for_algorithm(value, algorithm)
