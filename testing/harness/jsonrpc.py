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
