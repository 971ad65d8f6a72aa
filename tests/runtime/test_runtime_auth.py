"""Optional inbound auth on /mcp: one shared bearer token, or JWTs; probes stay open."""

from __future__ import annotations

import json
import time
from typing import Any

import fastmcp
import httpx
import httpx2
import mcp
import pytest
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from harness.jsonrpc import INITIALIZE, MCP_HEADERS, MODERN, modern_request
from harness.processes import ServerProcess
from harness.runtime import StartServer
from joserfc import jwk, jwt
from mcp.client.streamable_http import streamable_http_client

TOKEN = "s3cret-token-value"


def post_initialize(server: ServerProcess, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(server.mcp_url, json=INITIALIZE, headers=headers)


def post_modern(
    server: ServerProcess, method: str, params: dict[str, Any], token: str | None
) -> httpx.Response:
    """One session-less (2026-07-28) request, as the runtime's fast path takes it."""
    headers, message = modern_request(method, params, token)
    return httpx.post(server.mcp_url, json=message, headers=headers)


def assert_probes_open(server: ServerProcess) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(f"{server.base_url}{path}").status_code == 200, path


@pytest.fixture(scope="module")
def token_server(start_module_server: StartServer) -> ServerProcess:
    return start_module_server(env={"MCP_AUTH_TOKEN": TOKEN})


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]])
def test_mcp_without_the_token_is_401(token_server: ServerProcess, token: str | None) -> None:
    response = post_initialize(token_server, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_mcp_with_the_token_works_and_the_token_is_never_logged(
    token_server: ServerProcess,
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
    # Each call's event says it came with the shared token; the token names no subject.
    calls = [event for event in log_events(token_server) if event["event"] == "tool_call"]
    assert len(calls) >= 3
    assert all(event["client_id"] == "shared-token" for event in calls), calls
    assert not any("subject" in event for event in calls), calls


@pytest.fixture(scope="module")
def key_pair() -> RSAKeyPair:
    return RSAKeyPair.generate()


@pytest.fixture(scope="module")
def jwt_server(start_module_server: StartServer, key_pair: RSAKeyPair) -> ServerProcess:
    return start_module_server(
        env={
            "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
            "MCP_JWT_ISSUER": "https://issuer.test",
            "MCP_JWT_AUDIENCE": "mcp-sample",
        }
    )


async def test_jwt_signed_by_the_key_for_our_audience_works(
    jwt_server: ServerProcess, key_pair: RSAKeyPair
) -> None:
    token = key_pair.create_token(issuer="https://issuer.test", audience="mcp-sample")
    assert post_initialize(jwt_server, token).status_code == 200
    async with fastmcp.Client(jwt_server.mcp_url, auth=token, mode="legacy") as client:
        assert (await client.call_tool("echo", {"text": "jwt"})).data == "jwt"
    assert_probes_open(jwt_server)


@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["session-based", "session-less"])
async def test_each_call_event_names_the_tokens_subject_and_client(
    jwt_server: ServerProcess, key_pair: RSAKeyPair, mode: str
) -> None:
    """The audit trail: the subject and client of the token each call came with, whichever
    path served it (session-less calls take the runtime's fast path)."""
    token = key_pair.create_token(
        subject=f"agent-{mode}",
        issuer="https://issuer.test",
        audience="mcp-sample",
        additional_claims={"client_id": "nightly-report"},
    )
    async with fastmcp.Client(jwt_server.mcp_url, auth=token, mode=mode) as client:
        assert (await client.call_tool("echo", {"text": mode})).data == mode
    (event,) = [
        event
        for event in log_events(jwt_server)
        if event["event"] == "tool_call" and event.get("subject") == f"agent-{mode}"
    ]
    assert (event["tool"], event["outcome"], event["client_id"]) == (
        "echo",
        "ok",
        "nightly-report",
    )
    assert token not in jwt_server.log_text()


def log_events(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]


def test_jwt_for_another_audience_issuer_or_key_is_401(
    jwt_server: ServerProcess, key_pair: RSAKeyPair
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
    # A reason is given only for a token our issuer signed, whatever the claims say.
    now = int(time.time())
    forged = signed_token(other_key, nbf=now + 600, exp=now + 3600)
    refused = post_initialize(jwt_server, forged)
    assert refused.status_code == 401
    assert refused.json()["error_description"] != NOT_YET_VALID


def test_protected_routes_take_the_mcp_token_and_plain_routes_stay_open(
    token_server: ServerProcess, tmp_path
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


def test_protected_routes_are_open_when_no_auth_is_configured(sample_server: ServerProcess) -> None:
    response = httpx.get(f"{sample_server.base_url}/secret")
    assert (response.status_code, response.json()) == (200, {"secret": "shown"})


ECHO_CALLS = 'mcp_tool_calls_total{outcome="ok",tool="echo"}'


@pytest.mark.parametrize("auth", ["shared token", "jwt"])
def test_session_less_requests_without_a_valid_token_are_401_and_run_nothing(
    request: pytest.FixtureRequest, key_pair: RSAKeyPair, auth: str
) -> None:
    if auth == "jwt":
        server: ServerProcess = request.getfixturevalue("jwt_server")
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
    assert "fast_path_enabled" in {event["event"] for event in log_events(server)}
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


def signed_token(key_pair: RSAKeyPair, **claims: Any) -> str:
    """A token for the JWT servers' issuer and audience with exactly `claims` besides;
    a claim set to None is left out (RSAKeyPair.create_token always adds `exp`)."""
    payload = {"iss": "https://issuer.test", "aud": "mcp-sample", "sub": "tester"}
    payload.update({name: value for name, value in claims.items() if value is not None})
    key = jwk.import_key(key_pair.private_key.get_secret_value(), "RSA")
    return jwt.encode({"alg": "RS256"}, payload, key, algorithms=["RS256"])


@pytest.fixture(scope="module")
def jwt_server_without_fast_path(
    start_module_server: StartServer, key_pair: RSAKeyPair
) -> ServerProcess:
    return start_module_server(
        env={
            "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
            "MCP_JWT_ISSUER": "https://issuer.test",
            "MCP_JWT_AUDIENCE": "mcp-sample",
            "MCP_FAST_PATH": "false",
        }
    )


NOT_YET_VALID = "token is not valid yet (nbf)"
NEVER_EXPIRES = "token has no expiry time (exp)"
NBF_NOT_A_TIME = "token's not-before time (nbf) is not a number"
ISSUED_LATER = "token is issued in the future (iat)"


def time_claims(case: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "nbf in 10 minutes": {"nbf": now + 600, "exp": now + 3600},
        # Within the default leeway (60 s), but past FastMCP's own fixed skew (30 s), so
        # FastMCP refuses it before the runtime's checks run.
        "nbf in 45 s": {"nbf": now + 45, "exp": now + 3600},
        "no exp": {"exp": None},
        "nbf not a number": {"nbf": "tomorrow", "exp": now + 3600},
        "iat in 10 minutes": {"iat": now + 600, "exp": now + 3600},
    }[case]


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "fastmcp"])
@pytest.mark.parametrize("generation", ["session-based", "session-less"])
@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("nbf in 10 minutes", NOT_YET_VALID),
        ("nbf in 45 s", NOT_YET_VALID),
        ("no exp", NEVER_EXPIRES),
        ("nbf not a number", NBF_NOT_A_TIME),
        ("iat in 10 minutes", ISSUED_LATER),
    ],
)
def test_tokens_not_yet_valid_or_without_expiry_are_401_saying_why(
    request: pytest.FixtureRequest,
    key_pair: RSAKeyPair,
    fast_path: bool,
    generation: str,
    case: str,
    reason: str,
) -> None:
    server: ServerProcess = request.getfixturevalue(
        "jwt_server" if fast_path else "jwt_server_without_fast_path"
    )
    token = signed_token(key_pair, **time_claims(case))
    calls_before = server.metric(ECHO_CALLS)
    if generation == "session-based":
        response = post_initialize(server, token)
    else:
        call = {"name": "echo", "arguments": {"text": "too early"}}
        response = post_modern(server, "tools/call", call, token)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": reason}
    assert response.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{reason}"'
    )
    assert server.metric(ECHO_CALLS) == calls_before


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "fastmcp"])
def test_nbf_within_the_leeway_and_in_the_past_are_accepted(
    request: pytest.FixtureRequest, key_pair: RSAKeyPair, fast_path: bool
) -> None:
    server: ServerProcess = request.getfixturevalue(
        "jwt_server" if fast_path else "jwt_server_without_fast_path"
    )
    now = int(time.time())
    call = {"name": "echo", "arguments": {"text": "on time"}}
    # The default leeway (60 s) absorbs an issuer's clock running a little ahead.
    for nbf in (now + 30, now - 600):
        token = signed_token(key_pair, nbf=nbf, exp=now + 3600)
        assert post_initialize(server, token).status_code == 200
        assert post_modern(server, "tools/call", call, token).status_code == 200


def test_protected_routes_say_why_a_token_is_refused(
    jwt_server: ServerProcess, key_pair: RSAKeyPair
) -> None:
    secret = f"{jwt_server.base_url}/secret"
    for case, reason in (("nbf in 10 minutes", NOT_YET_VALID), ("no exp", NEVER_EXPIRES)):
        token = signed_token(key_pair, **time_claims(case))
        refused = httpx.get(secret, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json() == {"error": f"authorization: {reason}"}
        assert refused.headers["www-authenticate"] == (
            f'Bearer error="invalid_token", error_description="{reason}"'
        )


def test_settings_allow_tokens_without_exp_and_change_the_leeway(
    start_server: StartServer, key_pair: RSAKeyPair
) -> None:
    server = start_server(
        env={
            "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
            "MCP_JWT_ISSUER": "https://issuer.test",
            "MCP_JWT_AUDIENCE": "mcp-sample",
            "MCP_JWT_ALLOW_NO_EXP": "true",
            "MCP_JWT_LEEWAY_SECONDS": "0",
        }
    )
    now = int(time.time())
    assert post_initialize(server, signed_token(key_pair)).status_code == 200
    assert post_initialize(server, signed_token(key_pair, nbf=now - 5)).status_code == 200
    early = post_initialize(server, signed_token(key_pair, nbf=now + 30))
    assert (early.status_code, early.json()["error_description"]) == (401, NOT_YET_VALID)
    # An expired token stays refused, whatever the settings.
    expired = post_initialize(server, signed_token(key_pair, exp=now - 60))
    assert expired.status_code == 401
