"""Where the fast path's front (mcp_runtime/fast_path/front.py) is installed: only where it
reproduces everything between the app and the fast path, which authentication, rate limits
or a fast path turned off rule out. What it serves is checked against FastMCP by the
differential tests (test_runtime_fast_path.py), which go through it."""

from __future__ import annotations

import pytest
from fastmcp import FastMCP
from mcp_runtime.app import ServerSpec, build_app
from mcp_runtime.settings import RuntimeSettings


def layers(**settings: object) -> list[str]:
    mcp = FastMCP("front")

    @mcp.tool
    def echo(text: str) -> str:
        return text

    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings(**settings))  # type: ignore[arg-type]
    return [middleware.cls.__name__ for middleware in app.user_middleware]


def test_a_server_without_auth_or_limits_is_served_from_the_front() -> None:
    assert layers()[:2] == ["FastFront", "RequestLimits"]


@pytest.mark.parametrize(
    "settings",
    [
        {"mcp_fast_path": False},
        {"mcp_auth_token": "a-shared-token-of-enough-length"},
        {"mcp_rate_limit_per_server": "100 per second"},
    ],
    ids=["fast path off", "shared token", "rate limit"],
)
def test_anything_between_the_route_and_the_fast_path_keeps_the_front_out(
    settings: dict[str, object],
) -> None:
    assert "FastFront" not in layers(**settings)
    assert layers(**settings)[0] == "RequestLimits"
