"""Where the fast path's front (mcp_runtime/fast_path/front.py) is installed: only where it
reproduces everything between the app and the fast path (FastMCP's guard and bearer-token
authentication), which rate limits or a fast path turned off rule out. What it serves is
checked against FastMCP by the differential tests (test_runtime_fast_path.py) and the auth
tests, which go through it."""

from __future__ import annotations

import pytest
from fastmcp import FastMCP
from harness.in_process import modern_request, post, served_in_process
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp_runtime.app import ServerSpec, build_app
from mcp_runtime.settings import RuntimeSettings


def layers(**settings: object) -> list[str]:
    mcp = FastMCP("front")

    @mcp.tool
    def echo(text: str) -> str:
        return text

    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings(**settings))  # type: ignore[arg-type]
    return [middleware.cls.__name__ for middleware in app.user_middleware]


@pytest.mark.parametrize(
    "settings", [{}, {"mcp_auth_token": "a-shared-token-of-enough-length"}], ids=["open", "token"]
)
def test_a_server_without_limits_is_served_from_the_front(settings: dict[str, object]) -> None:
    assert layers(**settings)[:2] == ["FastFront", "RequestLimits"]


@pytest.mark.parametrize(
    "settings",
    [
        {"mcp_fast_path": False},
        {"mcp_rate_limit_per_server": "100 per second"},
    ],
    ids=["fast path off", "rate limit"],
)
def test_anything_between_the_route_and_the_fast_path_keeps_the_front_out(
    settings: dict[str, object],
) -> None:
    assert "FastFront" not in layers(**settings)
    assert layers(**settings)[0] == "RequestLimits"


async def test_a_call_with_a_token_is_served_in_front_and_its_tool_sees_the_token() -> None:
    """With a shared token the front authenticates as FastMCP's layers do: the call is
    served in front of them, and the tool finds the caller's token where the MCP SDK's
    `get_access_token` looks (AuthContextMiddleware's context variable); a call without a
    token, or with another one, goes through the layers and gets their 401."""
    token = "a-shared-token-of-enough-length"
    mcp = FastMCP("front")

    @mcp.tool
    def whoami() -> str:
        access = get_access_token()
        return "nobody" if access is None else access.client_id

    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings(mcp_auth_token=token))  # type: ignore[call-arg]
    headers, body = modern_request("tools/call", {"name": "whoami", "arguments": {}})
    async with served_in_process(app, mcp) as served:
        for sent, status in ((None, 401), ("another-token-of-enough-length", 401), (token, 200)):
            auth = {} if sent is None else {"Authorization": f"Bearer {sent}"}
            calls = served.fast_calls
            answer = await post(served, {**headers, **auth}, body)
            assert answer.status == status, answer.body
        assert answer.body["result"]["content"][0]["text"] == "shared-token"
        assert served.fast_calls == calls + 1
        assert served.delegated == 0
