"""BackendClient: an application backend's calls to one MCP server, tools and REST."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx2

from mcp_backend_client.connections import ServerConnections
from mcp_backend_client.guarded import Guard, ServerError
from mcp_backend_client.mcp_channel import McpChannel
from mcp_backend_client.settings import Server

# HTTP methods whose repetition has the effect of one request (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class BackendClient:
    """Calls to one server through one connection pool, one MCP connection and one breaker.

    Create one per server for the life of the application and share it between requests:

        async with BackendClient(Server(name="todo", url="http://todo-mcp:8001")) as todo:
            task = await todo.call_tool("create_task", {"title": "Write the report"})
            response = await todo.request("GET", f"/tasks/{task['id']}")

    Every call raises `BackendUnavailable` when the server cannot answer in time, after
    retries for calls that are safe to repeat: tools the server annotates `readOnlyHint` or
    `idempotentHint`, and GET, HEAD, OPTIONS, PUT and DELETE. A tool's error result raises
    `ToolRejected`; a REST answer below 500 is returned as it is.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self._connections = ServerConnections(server.url, server.resilience.timeout_seconds)
        self._mcp = McpChannel(server, self._connections)
        self._guard = Guard(server.name, server.resilience)

    @property
    def breaker_state(self) -> str:
        """closed, open or half-open."""
        return self._guard.breaker.state

    @property
    def protocol_version(self) -> str | None:
        """The MCP protocol version of the current connection, once connected."""
        return self._mcp.protocol_version

    async def tool_is_safe(self, tool: str) -> bool:
        """Whether a call of `tool` may be repeated: from tools/list, read once and kept."""
        safe = self._mcp.cached_safety(tool)
        if safe is None:
            await self._guard.run("tools/list", True, self._mcp.read_safety)
            safe = self._mcp.cached_safety(tool)
        return bool(safe)

    async def call_tool(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        """Call a tool; its structured result (a dict), or its text when it has none."""
        safe = await self.tool_is_safe(tool)
        return await self._guard.run(
            f"tools/call {tool}", safe, lambda: self._mcp.call_tool(tool, arguments or {})
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
    ) -> httpx2.Response:
        """A REST request to the server (path relative to its URL), read in full.

        `idempotent` overrides what the method says, e.g. True for a POST that the API
        documents as repeatable (`POST /tasks/{id}/complete`).
        """
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent

        async def send() -> httpx2.Response:
            response = await self._connections.rest.request(method, path, json=json, params=params)
            if response.status_code >= 500:
                raise ServerError(response.status_code)
            return response

        return await self._guard.run(f"{method} {path}", safe, send)

    async def aclose(self) -> None:
        await self._mcp.aclose()
        await self._connections.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
