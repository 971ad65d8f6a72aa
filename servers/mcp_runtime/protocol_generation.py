"""Which generation of the protocol a request speaks, from its MCP-Protocol-Version header."""

from __future__ import annotations

from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS


def session_less(version: str | None) -> bool:
    """Whether `version` is of the 2026-07-28 generation, which has no handshake and no
    session; None (no header) is a handshake-era client's first request."""
    return version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS
