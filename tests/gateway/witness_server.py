"""An upstream for the gateway tests that says who called it, and over which connection."""

from __future__ import annotations

import asyncio

import mcp_types
from fastmcp import FastMCP
from fastmcp.server.dependencies import get_http_request
from mcp_runtime import PACKAGE_VERSION, RuntimeSettings, ServerSpec, run

mcp = FastMCP("witness", version=PACKAGE_VERSION)


@mcp.tool
async def whoami(seconds: float = 0.0) -> dict[str, str]:
    """The Authorization header and the client address (one per TCP connection) of the
    HTTP request that brought this call, after waiting `seconds`."""
    await asyncio.sleep(seconds)
    request = get_http_request()
    assert request.client is not None
    return {
        "authorization": request.headers.get("authorization", ""),
        "connection": f"{request.client.host}:{request.client.port}",
    }


# Set per hop or per connection, not by whoever sends the call.
_HOP_HEADERS = frozenset({"host", "content-length", "connection"})


@mcp.tool
def headers() -> dict[str, str]:
    """The HTTP headers of the request that brought this call (bar the hop's own), by name."""
    request = get_http_request()
    return dict(sorted((k, v) for k, v in request.headers.items() if k not in _HOP_HEADERS))


@mcp.tool
def asks() -> mcp_types.InputRequiredResult:
    """Asks its caller to confirm first, as a 2026-07-28 guard tool does (SEP-2322)."""
    confirm = mcp_types.ElicitRequest(
        params=mcp_types.ElicitRequestFormParams(
            message="Go on?", requested_schema={"type": "object", "properties": {}}
        )
    )
    return mcp_types.InputRequiredResult(input_requests={"confirm": confirm}, request_state="s1")


def create(_: RuntimeSettings) -> ServerSpec:
    return ServerSpec(mcp=mcp)


if __name__ == "__main__":
    run(create, RuntimeSettings)
