"""One MCP connection to a server (FastMCP's Client), kept across calls, renewed after a failure."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any

import mcp_types
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from mcp.shared.exceptions import MCPError

from mcp_backend_client.connections import ServerConnections
from mcp_backend_client.errors import ToolRejected
from mcp_backend_client.settings import Server

# JSON-RPC errors that are the server's answer about the request itself, not its health.
_REJECTIONS = {mcp_types.INVALID_PARAMS, mcp_types.METHOD_NOT_FOUND, mcp_types.INVALID_REQUEST}


class McpChannel:
    """A FastMCP Client connected on first use and kept open: with the 2025-11-25 protocol
    one session (and its handshake) serves every call, with 2026-07-28 each call is one POST.

    After any failure the client is replaced, so the next call connects afresh: a session the
    server forgot (it restarted) or a stream cut halfway is not used again. The old one is
    closed in the background, so the failing call is not held up by a dead server.
    """

    def __init__(self, server: Server, connections: ServerConnections) -> None:
        self._server = server
        self._connections = connections
        self._client = self._new_client()
        self._connecting = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._safe_tools: dict[str, bool] | None = None

    def _new_client(self) -> Client[StreamableHttpTransport]:
        transport = StreamableHttpTransport(
            self._server.mcp_url, httpx_client_factory=self._connections.mcp_http_client
        )
        return Client(transport, mode=self._server.protocol)

    @property
    def protocol_version(self) -> str | None:
        return self._client.protocol_version

    def cached_safety(self, tool: str) -> bool | None:
        """Whether `tool` is safe to repeat, when the tool list was read already."""
        if self._safe_tools is None:
            return None
        return self._safe_tools.get(tool, False)

    async def read_safety(self) -> None:
        """Read tools/list once: a tool is safe to repeat when annotated read-only or
        idempotent. A tool the server did not list is not."""
        tools = await self._attempt(lambda client: client.list_tools())
        self._safe_tools = {
            tool.name: bool(
                tool.annotations
                and (tool.annotations.read_only_hint or tool.annotations.idempotent_hint)
            )
            for tool in tools
        }

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """The tool's structured result, or its text when it has none."""
        result = await self._attempt(
            lambda client: client.call_tool(name, arguments, raise_on_error=False)
        )
        text = " ".join(getattr(block, "text", "") for block in result.content)
        if result.is_error:
            raise ToolRejected(self._server.name, name, text)
        return result.structured_content if result.structured_content is not None else text

    async def aclose(self) -> None:
        await self._client.close()
        await asyncio.gather(*self._closing)

    async def _attempt(self, call: Any) -> Any:
        client = await self._connected()
        try:
            return await call(client)
        except MCPError as error:
            if error.code in _REJECTIONS:
                raise ToolRejected(self._server.name, "request", error.error.message) from None
            self._renew(client)
            raise
        except BaseException:
            self._renew(client)
            raise

    async def _connected(self) -> Client[StreamableHttpTransport]:
        async with self._connecting:
            client = self._client
            if not client.is_connected():
                try:
                    # Held open until replaced or closed, not for one `async with` block.
                    await client.__aenter__()
                except BaseException:
                    self._renew(client)
                    raise
            return client

    def _renew(self, failed: Client[StreamableHttpTransport]) -> None:
        if self._client is not failed:
            return  # a concurrent call renewed it already
        self._client = self._new_client()
        closing = asyncio.create_task(_close_quietly(failed))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)


async def _close_quietly(client: Client[StreamableHttpTransport]) -> None:
    # It failed already; how its close goes changes nothing.
    with suppress(Exception):
        await client.close()
