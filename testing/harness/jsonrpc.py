"""Raw MCP JSON-RPC messages for tests that talk HTTP without an MCP client."""

from __future__ import annotations

from typing import Any

# Headers a streamable-HTTP client sends with every POST to /mcp.
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}

INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}

MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def modern_request(
    method: str, params: dict[str, Any], token: str | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Headers and body of one session-less (2026-07-28) request, bearing `token` if given."""
    headers = {
        **MCP_HEADERS,
        "content-type": "application/json",
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
    }
    if "name" in params:
        headers["mcp-name"] = params["name"]
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": method,
        "params": {**params, "_meta": MODERN_META},
    }
    return headers, message
