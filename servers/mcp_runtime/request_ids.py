"""Requests whose JSON-RPC id is not one MCP allows get Invalid Request, not silence.

MCP narrows JSON-RPC's ids to strings and integers ("Unlike base JSON-RPC, the ID MUST NOT
be null"), which is the SDK's `RequestId` (a strict int, so neither `true` nor `1.0`). Given
another id, the SDK's session-based transport takes the message for a notification: it
answers 202 with no body, runs nothing, and the client waits for an answer that never
comes. The 2026-07-28 entry already answers -32600; `RequestIdGuard` gives every generation
the same answer.
"""

from __future__ import annotations

import contextlib

import pydantic_core
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.asgi_body import read_body, replay
from mcp_runtime.jsonrpc_errors import jsonrpc_error

INVALID_ID_MESSAGE = "Invalid Request: id must be a string or an integer"


def has_invalid_id(message: object) -> bool:
    """Whether `message` (decoded JSON) is a request whose id MCP does not allow.

    Notifications (no `id`) and responses (no `method`) are left to the SDK.
    """
    if not (isinstance(message, dict) and "method" in message and "id" in message):
        return False
    request_id = message["id"]
    return not (isinstance(request_id, str) or type(request_id) is int)


def invalid_id_response() -> Response:
    return jsonrpc_error(400, INVALID_ID_MESSAGE)


class RequestIdGuard:
    """In front of FastMCP's /mcp endpoint: answers a POSTed request with an id MCP does not
    allow with -32600 (HTTP 400, id null); everything else goes on unchanged, body included."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _json(scope):
            await self._app(scope, receive, send)
            return
        # The body's size is bounded already: RequestLimits sits in front of every route.
        received, body = await read_body(receive)
        if body is None:
            # The client left while sending it: nothing to run, no one to answer (the SDK
            # would log its failed read as a server error, with a traceback).
            return
        decoded = None
        # Not JSON: the SDK answers with its parse error.
        with contextlib.suppress(ValueError):
            decoded = pydantic_core.from_json(body)
        if has_invalid_id(decoded):
            await invalid_id_response()(scope, receive, send)
            return
        await self._app(scope, replay(received, receive), send)


def _json(scope: Scope) -> bool:
    # What the SDK itself will parse; anything else it refuses on its own.
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.lower().startswith("application/json")
