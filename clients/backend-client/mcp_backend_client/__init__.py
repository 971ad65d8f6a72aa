"""Resilient calls from application backends to MCP servers: tools and REST."""

from mcp_backend_client.client import IDEMPOTENT_METHODS, BackendClient
from mcp_backend_client.errors import BackendUnavailable, ToolRejected
from mcp_backend_client.settings import Protocol, Resilience, Server

__all__ = [
    "IDEMPOTENT_METHODS",
    "BackendClient",
    "BackendUnavailable",
    "Protocol",
    "Resilience",
    "Server",
    "ToolRejected",
]
