"""JSON-RPC error answers the runtime gives on /mcp itself, shaped as the MCP SDK's own."""

from __future__ import annotations

from collections.abc import Mapping

from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.responses import Response


def jsonrpc_error(
    status_code: int,
    message: str,
    code: int = INVALID_REQUEST,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error without a request id: it answers a request whose id is unknown or unusable."""
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))
    return Response(
        body.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
