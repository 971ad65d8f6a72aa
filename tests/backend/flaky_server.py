"""An MCP server that fails on purpose: chosen calls of a key are too slow to wait for.

Each tool and route counts its calls per key; the calls whose numbers are in `slow_calls`
(1 is the first) sleep SLOW_SECONDS, far past the tests' client timeouts, before answering.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from mcp_runtime import PACKAGE_VERSION, RuntimeSettings, ServerSpec, run
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SLOW_SECONDS = 4.0

mcp = FastMCP("flaky", version=PACKAGE_VERSION)
calls: Counter[str] = Counter()


async def _count(key: str, slow_calls: list[int]) -> int:
    calls[key] += 1
    number = calls[key]
    if number in slow_calls:
        await asyncio.sleep(SLOW_SECONDS)
    return number


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
async def read(key: str, slow_calls: list[int]) -> int:
    """Count a call of `key`; return its number."""
    return await _count(key, slow_calls)


@mcp.tool
async def write(key: str, slow_calls: list[int]) -> int:
    """The same without hints: a plain create, never safe to repeat."""
    return await _count(key, slow_calls)


@mcp.tool(annotations=ToolAnnotations(readOnlyHint=True))
async def count(key: str) -> int:
    """How many calls `key` has had, over tools and REST."""
    return calls[key]


async def rest(request: Request) -> Response:
    """GET or POST /flaky/{key}: 503 for the first call of a key, then 200."""
    key = request.path_params["key"]
    calls[key] += 1
    status = 503 if calls[key] == 1 else 200
    return JSONResponse({"call": calls[key]}, status_code=status)


def create(_: RuntimeSettings) -> ServerSpec:
    return ServerSpec(mcp=mcp, routes=[Route("/flaky/{key}", rest, methods=["GET", "POST"])])


if __name__ == "__main__":
    run(create, RuntimeSettings)
