"""Optional inbound auth on /mcp: one shared bearer token, or JWTs; probes stay open."""

from __future__ import annotations

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


def post_initialize(server: RunningServer, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(server.mcp_url, json=INITIALIZE, headers=headers)


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
