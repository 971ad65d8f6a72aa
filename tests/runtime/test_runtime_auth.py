"""Optional inbound auth on /mcp: one shared bearer token, or JWTs; probes stay open."""

from __future__ import annotations

from typing import Any

import fastmcp
import httpx
import httpx2
import mcp
import pytest
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from harness.jsonrpc import INITIALIZE, MCP_HEADERS
from mcp.client.streamable_http import streamable_http_client
from runtime_harness import RunningServer, StartServer

TOKEN = "s3cret-token-value"
MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def post_initialize(server: RunningServer, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(server.mcp_url, json=INITIALIZE, headers=headers)


def post_modern(
    server: RunningServer, method: str, params: dict[str, Any], token: str | None
) -> httpx.Response:
    """One session-less (2026-07-28) request, as the runtime's fast path takes it."""
    headers = {
        **MCP_HEADERS,
        "content-type": "application/json",
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
    }
    if "name" in params:
        headers["mcp-name"] = params["name"]
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": method,
        "params": {**params, "_meta": MODERN_META},
    }
    return httpx.post(server.mcp_url, json=message, headers=headers)


def assert_probes_open(server: RunningServer) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(f"{server.base_url}{path}").status_code == 200, path


@pytest.fixture(scope="module")
def token_server(start_module_server: StartServer) -> RunningServer:
    return start_module_server(env={"MCP_AUTH_TOKEN": TOKEN})


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]])
def test_mcp_without_the_token_is_401(token_server: RunningServer, token: str | None) -> None:
    response = post_initialize(token_server, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_mcp_with_the_token_works_and_the_token_is_never_logged(
    token_server: RunningServer,
) -> None:
    assert post_initialize(token_server, TOKEN).status_code == 200
    async with fastmcp.Client(token_server.mcp_url, auth=TOKEN) as client:
        assert (await client.call_tool("echo", {"text": "in"})).data == "in"
    for mode in ("legacy", "auto"):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            mcp.Client(
                streamable_http_client(token_server.mcp_url, http_client=http), mode=mode
            ) as client,
        ):
            assert not (await client.call_tool("echo", {"text": "sdk"})).is_error
    assert_probes_open(token_server)
    assert TOKEN not in token_server.log_text()


@pytest.fixture(scope="module")
def key_pair() -> RSAKeyPair:
    return RSAKeyPair.generate()


@pytest.fixture(scope="module")
def jwt_server(start_module_server: StartServer, key_pair: RSAKeyPair) -> RunningServer:
    return start_module_server(
        env={
            "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
            "MCP_JWT_ISSUER": "https://issuer.test",
            "MCP_JWT_AUDIENCE": "mcp-sample",
        }
    )


async def test_jwt_signed_by_the_key_for_our_audience_works(
    jwt_server: RunningServer, key_pair: RSAKeyPair
) -> None:
    token = key_pair.create_token(issuer="https://issuer.test", audience="mcp-sample")
    assert post_initialize(jwt_server, token).status_code == 200
    async with fastmcp.Client(jwt_server.mcp_url, auth=token, mode="legacy") as client:
        assert (await client.call_tool("echo", {"text": "jwt"})).data == "jwt"
    assert_probes_open(jwt_server)


def test_jwt_for_another_audience_issuer_or_key_is_401(
    jwt_server: RunningServer, key_pair: RSAKeyPair
) -> None:
    other_key = RSAKeyPair.generate()
    rejected = [
        key_pair.create_token(issuer="https://issuer.test", audience="another-server"),
        key_pair.create_token(issuer="https://evil.test", audience="mcp-sample"),
        other_key.create_token(issuer="https://issuer.test", audience="mcp-sample"),
        key_pair.create_token(
            issuer="https://issuer.test", audience="mcp-sample", expires_in_seconds=-60
        ),
    ]
    assert [post_initialize(jwt_server, token).status_code for token in rejected] == [401] * 4


def test_protected_routes_take_the_mcp_token_and_plain_routes_stay_open(
    token_server: RunningServer, tmp_path
) -> None:
    secret = f"{token_server.base_url}/secret"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        refused = httpx.get(secret, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json() == {"error": "authorization: a valid bearer token is required"}
        assert refused.headers["www-authenticate"] == "Bearer"
    allowed = httpx.get(secret, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (allowed.status_code, allowed.json()) == (200, {"secret": "shown"})
    (tmp_path / "gate").touch()
    open_route = httpx.get(f"{token_server.base_url}/gated", params={"gate": tmp_path / "gate"})
    assert open_route.status_code == 200


def test_protected_routes_are_open_when_no_auth_is_configured(sample_server: RunningServer) -> None:
    response = httpx.get(f"{sample_server.base_url}/secret")
    assert (response.status_code, response.json()) == (200, {"secret": "shown"})


ECHO_CALLS = 'mcp_tool_calls_total{outcome="ok",tool="echo"}'


@pytest.mark.parametrize("auth", ["shared token", "jwt"])
def test_session_less_requests_without_a_valid_token_are_401_and_run_nothing(
    request: pytest.FixtureRequest, key_pair: RSAKeyPair, auth: str
) -> None:
    if auth == "jwt":
        server: RunningServer = request.getfixturevalue("jwt_server")
        valid = key_pair.create_token(issuer="https://issuer.test", audience="mcp-sample")
        refused = [
            None,
            "wrong",
            RSAKeyPair.generate().create_token(issuer="https://issuer.test", audience="mcp-sample"),
        ]
    else:
        server = request.getfixturevalue("token_server")
        valid, refused = TOKEN, [None, "wrong", TOKEN + "x"]
    # The fast path is on: auth must stop a refused call before it reaches the fast path.
    assert '"event": "fast_path_enabled"' in server.log_text()
    call = {"name": "echo", "arguments": {"text": "modern"}}
    calls_before = server.metric(ECHO_CALLS)
    for token in refused:
        for method, params in (("tools/call", call), ("server/discover", {})):
            response = post_modern(server, method, params, token)
            assert response.status_code == 401, (method, token)
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert server.metric(ECHO_CALLS) == calls_before, "a refused call ran the tool"

    called = post_modern(server, "tools/call", call, valid)
    assert called.status_code == 200
    assert called.json()["result"]["content"][0]["text"] == "modern"
    assert server.metric(ECHO_CALLS) == calls_before + 1
    discovered = post_modern(server, "server/discover", {}, valid)
    assert discovered.status_code == 200
    assert discovered.json()["result"]["supportedVersions"] == [MODERN]
