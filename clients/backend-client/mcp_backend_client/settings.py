"""How one server is reached, and how hard the client tries."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# "auto" negotiates the session-less 2026-07-28 revision where the server speaks it (FastMCP
# falls back to the handshake otherwise); "legacy" always holds a 2025-11-25 session.
Protocol = Literal["auto", "legacy"]


class Resilience(BaseModel):
    """Timeouts, retries and the circuit breaker of one server."""

    timeout_seconds: float = Field(5.0, gt=0, description="Per attempt, connecting included.")
    retry_attempts: int = Field(
        3, ge=1, description="Attempts of a call that is safe to repeat; others get one."
    )
    retry_initial_seconds: float = Field(0.1, ge=0, description="First backoff, then doubled.")
    retry_max_seconds: float = Field(2.0, ge=0, description="Longest backoff, before jitter.")
    breaker_failure_threshold: int = Field(
        5, ge=1, description="Consecutive failed attempts that open the breaker."
    )
    breaker_reset_seconds: float = Field(
        10.0, gt=0, description="How long the breaker stays open before a trial call."
    )
    breaker_success_threshold: int = Field(
        1, ge=1, description="Successful trial calls that close a half-open breaker."
    )


class Server(BaseModel):
    """One MCP server: its name (the metrics' and logs' label) and base URL."""

    name: str
    url: str = Field(description="Base URL, e.g. http://todo-mcp:8001; REST paths hang off it.")
    mcp_path: str = "/mcp"
    protocol: Protocol = "auto"
    resilience: Resilience = Resilience()

    @property
    def mcp_url(self) -> str:
        return self.url.rstrip("/") + self.mcp_path
