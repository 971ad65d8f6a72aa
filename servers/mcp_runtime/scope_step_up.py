"""Step-up for tool grants held as OAuth scopes: a `tools/call` of a tool the caller's
scopes do not open is answered with HTTP 403 `insufficient_scope` naming a scope that opens
it (RFC 6750 section 3.1, MCP's scope challenge), before the call reaches FastMCP.

An MCP client that implements the challenge (the SDK's OAuth client, SEP-2350) then asks
its authorization server for that scope, on top of those it has, and retries the call: a
client starts with the scopes the 401 named and gains tool grants as it uses tools. Grants
held in another claim (`groups`) cannot be requested, so those calls go on to FastMCP,
which refuses them with a tool error (tool_grants.py). Of the grants that open a tool, the
challenge names the first in MCP_TOOL_GRANTS: list the narrow ones first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from fastmcp import FastMCP
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.asgi_body import read_body, replay
from mcp_runtime.tool_grants import ToolAuthorization

_TOOLS_CALL = b'"tools/call"'


class ScopeStepUp:
    """ASGI layer behind authentication answering 403 insufficient_scope as described above."""

    def __init__(
        self,
        app: ASGIApp,
        mcp: FastMCP,
        authorization: ToolAuthorization,
        required_scopes: Sequence[str],
        resource_metadata_url: str | None,
        max_bytes: int,
    ) -> None:
        self._app = app
        self._mcp = mcp
        self._authorization = authorization
        self._required = list(required_scopes)
        self._metadata_url = resource_metadata_url
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not isinstance(user, AuthenticatedUser)
        ):
            await self._app(scope, receive, send)
            return
        received, body = await read_body(receive, self._max_bytes)
        name = _called_tool(body)
        if name is not None:
            tool = await self._mcp.get_tool(name)
            token = user.access_token
            if tool is not None:
                allowed, opening = self._authorization.decide(tool, token)  # type: ignore[arg-type]
                if not allowed and opening:
                    self._authorization.record(tool, token, "call", allowed=False)  # type: ignore[arg-type]
                    await self._challenge(send, name, opening[0])
                    return
        await self._app(scope, replay(received, receive), send)

    async def _challenge(self, send: Send, tool: str, grant: str) -> None:
        scopes = " ".join(dict.fromkeys([*self._required, grant]))
        description = f"tool '{tool}' needs the scope {grant}"
        parts = [
            'error="insufficient_scope"',
            f'scope="{scopes}"',
            f'error_description="{description}"',
        ]
        if self._metadata_url is not None:
            parts.append(f'resource_metadata="{self._metadata_url}"')
        payload = json.dumps(
            {"error": "insufficient_scope", "error_description": description}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"www-authenticate", ("Bearer " + ", ".join(parts)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _called_tool(body: bytes | None) -> str | None:
    """The tool a single JSON-RPC `tools/call` request names, else None."""
    if body is None or _TOOLS_CALL not in body:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None
