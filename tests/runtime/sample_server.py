"""A small server on the shared runtime, started as a subprocess by the runtime tests."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import mcp_types
from fastmcp import Context, FastMCP
from fastmcp.exceptions import ToolError
from mcp_runtime import PACKAGE_VERSION, RuntimeSettings, ServerSpec, run
from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class SampleSettings(RuntimeSettings):
    # While this file exists, the readiness check fails: lets tests break a dependency.
    sample_outage_file: Path | None = None


mcp = FastMCP("sample", version=PACKAGE_VERSION)


@mcp.tool
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@mcp.tool
async def slow_echo(text: str, seconds: float) -> str:
    """Return the text after waiting `seconds`."""
    await asyncio.sleep(seconds)
    return text


@mcp.tool
async def gated_echo(text: str, gate: str) -> str:
    """Return the text once the file `gate` exists. `<gate>.entered` says the call has
    arrived, `<gate>.cancelled` that it was cancelled before the gate opened."""
    path = Path(gate)
    path.with_name(f"{path.name}.entered").touch()
    try:
        while not path.exists():
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        path.with_name(f"{path.name}.cancelled").touch()
        raise
    return text


@mcp.tool
def protocol_version(ctx: Context) -> str:
    """The MCP protocol revision this call was made with."""
    assert ctx.request_context is not None
    return ctx.request_context.protocol_version


@mcp.tool
def process_id() -> int:
    """The id of the process that served this call (a worker, with MCP_WORKERS > 1)."""
    return os.getpid()


@mcp.tool(output_schema=None)
def confirmed(ctx: Context) -> str | mcp_types.InputRequiredResult:
    """Asks its caller to confirm first (a 2026-07-28 ask for input, SEP-2322), then says
    which process answered and the request state the ask carried, as this tool saw it."""
    if ctx.input_responses is None:
        confirm = mcp_types.ElicitRequest(
            params=mcp_types.ElicitRequestFormParams(
                message="Go on?", requested_schema={"type": "object", "properties": {}}
            )
        )
        return mcp_types.InputRequiredResult(
            input_requests={"confirm": confirm}, request_state=f"asked by {os.getpid()}"
        )
    return f"confirmed by {os.getpid()}; {ctx.request_state}"


@mcp.tool
def loaded_modules() -> list[str]:
    """Test-only: every module this process has imported, for start-up import checks."""
    return sorted(sys.modules)


@mcp.tool
def fail(reason: str) -> str:
    """Always fail with the given reason."""
    raise ToolError(reason)


async def gated(request: Request) -> Response:
    """An extra plain-HTTP route: answers once the file named by `?gate=` exists.

    On arrival it creates `<gate>.entered`, so a test can wait until the request is in flight.
    """
    gate = Path(request.query_params["gate"])
    gate.with_name(f"{gate.name}.entered").touch()
    while not gate.exists():
        await asyncio.sleep(0.02)
    return JSONResponse({"gate": "open"})


async def secret(_: Request) -> Response:
    return JSONResponse({"secret": "shown"})


async def upload(request: Request) -> Response:
    """An extra route that reads the whole body, as a REST endpoint taking JSON does."""
    return JSONResponse({"bytes": len(await request.body())})


def create(settings: SampleSettings) -> ServerSpec:
    registry = CollectorRegistry()
    checks = Counter("sample_dependency_checks", "Dependency checks run.", registry=registry)

    async def dependency_reachable() -> None:
        checks.inc()
        if settings.sample_outage_file is not None and settings.sample_outage_file.exists():
            raise ConnectionError("sample dependency is down")

    return ServerSpec(
        mcp=mcp,
        readiness_checks=[dependency_reachable],
        collectors=[registry],
        routes=[
            Route("/gated", gated, methods=["GET"]),
            Route("/upload", upload, methods=["POST"]),
        ],
        protected_routes=[Route("/secret", secret, methods=["GET"])],
    )


if __name__ == "__main__":
    run(create, SampleSettings)
