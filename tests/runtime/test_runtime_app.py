"""The assembled app in-process: readiness before start-up and without tools."""

from __future__ import annotations

import httpx
from fastmcp import FastMCP
from mcp_runtime import RuntimeSettings, ServerSpec, build_app


def with_one_tool(name: str) -> FastMCP:
    mcp = FastMCP(name)

    @mcp.tool
    def ping() -> str:
        """Answer pong."""
        return "pong"

    return mcp


async def get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        return await http.get(path)


async def test_ready_is_503_until_started_then_200() -> None:
    app = build_app(ServerSpec(mcp=with_one_tool("one")), RuntimeSettings())
    before = await get(app, "/ready")
    assert (before.status_code, before.json()["reason"]) == (503, "starting")
    assert (await get(app, "/health")).status_code == 200
    async with app.router.lifespan_context(app):
        assert (await get(app, "/ready")).status_code == 200


async def test_server_without_tools_is_not_ready() -> None:
    app = build_app(ServerSpec(mcp=FastMCP("empty")), RuntimeSettings())
    async with app.router.lifespan_context(app):
        response = await get(app, "/ready")
    assert (response.status_code, response.json()["reason"]) == (503, "no tools registered")


async def test_lifespan_of_the_spec_wraps_the_server() -> None:
    events: list[str] = []

    class Pool:
        async def __aenter__(self) -> None:
            events.append("open")

        async def __aexit__(self, *_: object) -> None:
            events.append("close")

    app = build_app(ServerSpec(mcp=with_one_tool("pooled"), lifespan=Pool), RuntimeSettings())
    async with app.router.lifespan_context(app):
        assert events == ["open"]
        assert (await get(app, "/ready")).status_code == 200
    assert events == ["open", "close"]


async def test_a_check_may_note_a_degraded_dependency_while_ready() -> None:
    async def upstreams() -> str:
        return "upstreams down: todo (ConnectError)"

    async def database() -> None:
        pass

    spec = ServerSpec(mcp=with_one_tool("noted"), readiness_checks=[upstreams, database])
    app = build_app(spec, RuntimeSettings())
    async with app.router.lifespan_context(app):
        response = await get(app, "/ready")
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ready", "notes": ["upstreams down: todo (ConnectError)"]},
    )
