"""Per-tool grants, required scopes, rate limits and RFC 9728 metadata on the runtime,
with tokens signed by a local key (tests/auth runs the same against a real OIDC provider)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator

import fastmcp
import httpx
import pytest
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from harness.jsonrpc import INITIALIZE, MCP_HEADERS, modern_request
from harness.processes import ServerProcess
from harness.runtime import StartServer

ISSUER = "https://issuer.test"
GRANTS = {"sample:read": ["echo", "protocol_version"], "sample:slow": ["slow_echo"], "all": ["*"]}


def post_modern(
    server: ServerProcess, method: str, params: dict[str, object], token: str
) -> httpx.Response:
    headers, message = modern_request(method, params, token)
    # httpx's default 5 s is not enough for a first call on two cores at a load of 10 and more.
    return httpx.post(server.mcp_url, json=message, headers=headers, timeout=30)


def token_for(key_pair: RSAKeyPair, audience: str, *scopes: str, subject: str = "alice") -> str:
    return key_pair.create_token(
        subject=subject, issuer=ISSUER, audience=audience, scopes=list(scopes)
    )


@pytest.fixture(scope="module")
def key_pair() -> RSAKeyPair:
    return RSAKeyPair.generate()


def granted_env(key_pair: RSAKeyPair, fast_path: bool) -> dict[str, str]:
    return {
        "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
        "MCP_JWT_ISSUER": ISSUER,
        "MCP_JWT_AUDIENCE": "sample",
        "MCP_JWT_REQUIRED_SCOPES": "mcp:access",
        "MCP_TOOL_GRANTS": json.dumps(GRANTS),
        "MCP_FAST_PATH": str(fast_path).lower(),
    }


@pytest.fixture(scope="module", params=[True, False], ids=["fast-path", "fastmcp"])
def granted_server(
    request: pytest.FixtureRequest, start_module_server: StartServer, key_pair: RSAKeyPair
) -> ServerProcess:
    return start_module_server(env=granted_env(key_pair, request.param))


async def tool_names(server: ServerProcess, token: str) -> set[str]:
    async with fastmcp.Client(server.mcp_url, auth=token) as client:
        return {tool.name for tool in await client.list_tools()}


async def test_tools_list_shows_exactly_what_the_grants_open(
    granted_server: ServerProcess, key_pair: RSAKeyPair
) -> None:
    read = token_for(key_pair, "sample", "mcp:access", "sample:read")
    assert await tool_names(granted_server, read) == {"echo", "protocol_version"}
    both = token_for(key_pair, "sample", "mcp:access", "sample:read", "sample:slow")
    assert await tool_names(granted_server, both) == {"echo", "protocol_version", "slow_echo"}
    everything = await tool_names(
        granted_server, token_for(key_pair, "sample", "mcp:access", "all")
    )
    assert {"echo", "slow_echo", "gated_echo"} <= everything
    assert await tool_names(granted_server, token_for(key_pair, "sample", "mcp:access")) == set()


def test_a_call_outside_the_scope_grants_is_403_insufficient_scope_naming_a_scope(
    granted_server: ServerProcess, key_pair: RSAKeyPair
) -> None:
    token = token_for(key_pair, "sample", "mcp:access", "sample:read", subject="bob")
    before = granted_server.metric(
        'mcp_tool_authorizations_total{action="call",decision="denied",tool="slow_echo"}'
    )
    response = post_modern(
        granted_server,
        "tools/call",
        {"name": "slow_echo", "arguments": {"text": "x", "seconds": 0}},
        token,
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "tool 'slow_echo' needs the scope sample:slow",
    }
    # The first grant opening the tool; the required scope with it, so none is lost.
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="mcp:access sample:slow",'
        " error_description=\"tool 'slow_echo' needs the scope sample:slow\""
    )
    allowed = post_modern(
        granted_server, "tools/call", {"name": "echo", "arguments": {"text": "ok"}}, token
    )
    assert allowed.json()["result"]["structuredContent"] == {"result": "ok"}
    # A tool that does not exist is the tool error it always is.
    unknown = post_modern(granted_server, "tools/call", {"name": "nope", "arguments": {}}, token)
    assert unknown.status_code == 200
    after = granted_server.metric(
        'mcp_tool_authorizations_total{action="call",decision="denied",tool="slow_echo"}'
    )
    assert after == before + 1
    decisions = [
        json.loads(line)
        for line in granted_server.log_text().splitlines()
        if '"tool_authorization"' in line
    ]
    assert any(
        d["tool"] == "slow_echo" and d["allowed"] is False and d["subject"] == "bob"
        for d in decisions
    )
    assert any(d["tool"] == "echo" and d["allowed"] is True for d in decisions)


def test_a_token_without_the_required_scope_is_403_insufficient_scope(
    granted_server: ServerProcess, key_pair: RSAKeyPair
) -> None:
    token = token_for(key_pair, "sample", "sample:read")
    response = httpx.post(
        granted_server.mcp_url,
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "Required scope: mcp:access",
    }
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_protected_routes_need_the_required_scope_as_mcp_does(
    granted_server: ServerProcess, key_pair: RSAKeyPair
) -> None:
    """A server's own routes carry the tools' data (todo's /tasks): a token /mcp refuses for
    lacking MCP_JWT_REQUIRED_SCOPES must not read it there either."""
    secret = f"{granted_server.base_url}/secret"
    without = token_for(key_pair, "sample", "sample:read", "all")
    refused = httpx.get(secret, headers={"Authorization": f"Bearer {without}"})
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "authorization: the token lacks the required scope mcp:access"
    }
    assert refused.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="mcp:access"'
    )
    with_scope = token_for(key_pair, "sample", "mcp:access")
    allowed = httpx.get(secret, headers={"Authorization": f"Bearer {with_scope}"})
    assert (allowed.status_code, allowed.json()) == (200, {"secret": "shown"})


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "fastmcp"])
async def test_grants_in_a_groups_claim_filter_lists_and_refuse_calls_with_a_tool_error(
    start_server: StartServer, key_pair: RSAKeyPair, fast_path: bool
) -> None:
    server = start_server(
        env={
            **granted_env(key_pair, fast_path),
            "MCP_JWT_REQUIRED_SCOPES": "",
            "MCP_TOOL_GRANTS": json.dumps({"readers": ["echo"], "slow": ["slow_echo"]}),
            "MCP_TOOL_GRANTS_CLAIM": "groups",
        }
    )
    token = key_pair.create_token(
        subject="dana",
        issuer=ISSUER,
        audience="sample",
        additional_claims={"groups": ["readers", "x"]},
    )
    response = post_modern(server, "tools/list", {}, token)
    assert [tool["name"] for tool in response.json()["result"]["tools"]] == ["echo"]
    # A scope of the same name opens nothing when the claim is `groups`.
    scoped = token_for(key_pair, "sample", "readers")
    assert post_modern(server, "tools/list", {}, scoped).json()["result"]["tools"] == []
    # Groups cannot be asked for: no step-up, the call is refused as a tool error.
    expected = (
        "Authorization failed for tool 'slow_echo': it needs one of the grants slow"
        " in the token's 'groups' claim"
    )
    refused = post_modern(
        server, "tools/call", {"name": "slow_echo", "arguments": {"text": "x", "seconds": 0}}, token
    )
    assert refused.status_code == 200
    assert refused.json()["result"]["isError"] is True
    assert refused.json()["result"]["content"][0]["text"] == expected
    async with fastmcp.Client(server.mcp_url, auth=token, mode="legacy") as client:
        denied = await client.call_tool(
            "slow_echo", {"text": "x", "seconds": 0}, raise_on_error=False
        )
        assert denied.is_error
        assert denied.content[0].text == expected  # type: ignore[union-attr]
        assert (await client.call_tool("echo", {"text": "ok"})).data == "ok"


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "fastmcp"])
def test_a_grants_claim_that_is_no_string_or_list_holds_no_grant(
    start_server: StartServer, key_pair: RSAKeyPair, fast_path: bool
) -> None:
    """An identity provider may send the claim as null (a user in no group), a number or an
    object: none of them holds a grant (an object's keys are not its values), and a call is
    refused as any other call the grants do not open, not failed as an internal error."""
    server = start_server(
        env={
            **granted_env(key_pair, fast_path),
            "MCP_JWT_REQUIRED_SCOPES": "",
            "MCP_TOOL_GRANTS": json.dumps({"readers": ["echo"]}),
            "MCP_TOOL_GRANTS_CLAIM": "groups",
        }
    )
    expected = (
        "Authorization failed for tool 'echo': it needs one of the grants readers"
        " in the token's 'groups' claim"
    )
    for groups in (None, 5, {"readers": True}):
        token = key_pair.create_token(
            subject="erin", issuer=ISSUER, audience="sample", additional_claims={"groups": groups}
        )
        listed = post_modern(server, "tools/list", {}, token)
        assert listed.json()["result"]["tools"] == [], groups
        called = post_modern(
            server, "tools/call", {"name": "echo", "arguments": {"text": "x"}}, token
        )
        assert called.json()["result"]["isError"] is True, (groups, called.json())
        assert called.json()["result"]["content"][0]["text"] == expected
    assert "Traceback" not in server.log_text()


def limited_env(key_pair: RSAKeyPair, **limits: str) -> dict[str, str]:
    return {
        "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
        "MCP_JWT_ISSUER": ISSUER,
        "MCP_JWT_AUDIENCE": "sample",
        **limits,
    }


def echo(server: ServerProcess, token: str) -> httpx.Response:
    return post_modern(server, "tools/call", {"name": "echo", "arguments": {"text": "hi"}}, token)


# Windows of 10 s and more, so that a burst of a few requests takes a small part of one even
# on a busy machine. The sliding-window counter weighs the previous window by the part of it
# still in view and rounds the weight down, so a burst that straddles two windows gets one
# request more through: the first after the boundary, wherever in the burst that falls. One
# slower than a third of the window (a stall under load) may get a second more.
def quick_burst(
    server: ServerProcess, tokens: Iterator[str], count: int, within: float
) -> tuple[str, list[httpx.Response], int]:
    """`count` calls of one caller: the token and responses of the first of at most three
    bursts, each of another caller, that took under `within` seconds (a slower one is a stall
    of this machine, not a limit that let too much through), and the 429s of all of them."""
    refusals = 0
    for _ in range(3):
        token, began = next(tokens), time.monotonic()
        responses = [echo(server, token) for _ in range(count)]
        refusals += sum(response.status_code == 429 for response in responses)
        if time.monotonic() - began < within:
            return token, responses, refusals
    pytest.fail(f"three bursts of {count} calls each took {within} s or more")


def test_a_caller_over_its_limit_gets_429_with_retry_after_then_recovers(
    start_server: StartServer, key_pair: RSAKeyPair
) -> None:
    server = start_server(env=limited_env(key_pair, MCP_RATE_LIMIT_PER_CALLER="3 per 10 second"))
    callers = (token_for(key_pair, "sample", subject=f"alice{i}") for i in itertools.count())
    carol = token_for(key_pair, "sample", subject="carol")
    caller, burst, refusals = quick_burst(server, callers, 6, within=3)
    statuses = [response.status_code for response in burst]
    assert statuses[:3] == [200, 200, 200] and statuses[3:].count(429) >= 2, statuses
    refused = next(response for response in reversed(burst) if response.status_code == 429)
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 10
    assert refused.json()["error"] == "rate_limited"
    assert "caller rate limit of 3 per 10 second" in refused.json()["error_description"]
    # Another caller has its own allowance.
    assert echo(server, carol).status_code == 200
    assert server.metric('mcp_rate_limited_requests_total{limit="caller"}') == refusals
    # Probes are never limited.
    for _ in range(10):
        assert httpx.get(f"{server.base_url}/health").status_code == 200
    time.sleep(retry_after + 0.5)
    assert echo(server, caller).status_code == 200


def test_the_server_limit_holds_across_callers(
    start_server: StartServer, key_pair: RSAKeyPair
) -> None:
    tokens = [token_for(key_pair, "sample", subject=f"user{i}") for i in range(7)]
    # A stall of a fifth of the window (6 s) in a burst that straddles two windows lets a 7th call
    # through (see quick_burst). The server's count cannot start afresh with another caller, so
    # a slower burst is tried again on a new server.
    for _ in range(3):
        server = start_server(
            env=limited_env(key_pair, MCP_RATE_LIMIT_PER_SERVER="5 per 30 second")
        )
        began = time.monotonic()
        statuses = [echo(server, token).status_code for token in tokens]
        if time.monotonic() - began < 5:
            break
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:], statuses
    assert server.metric('mcp_rate_limited_requests_total{limit="server"}') == statuses.count(429)


def test_metadata_is_published_where_rfc_9728_and_older_clients_look(
    start_server: StartServer, key_pair: RSAKeyPair
) -> None:
    port_server = start_server(
        env={
            "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
            "MCP_JWT_ISSUER": ISSUER,
            "MCP_RESOURCE_URL": "https://sample.example.com/mcp",
            "MCP_JWT_REQUIRED_SCOPES": "mcp:access",
            "MCP_TOOL_GRANTS": json.dumps(GRANTS),
        }
    )
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        document = httpx.get(f"{port_server.base_url}{path}").json()
        assert document == {
            "resource": "https://sample.example.com/mcp",
            "authorization_servers": [ISSUER],
            "scopes_supported": ["mcp:access", "sample:read", "sample:slow", "all"],
            "bearer_methods_supported": ["header"],
        }, path
    challenge = httpx.post(port_server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
    assert challenge.status_code == 401
    assert challenge.headers["www-authenticate"] == (
        'Bearer scope="mcp:access", resource_metadata='
        '"https://sample.example.com/.well-known/oauth-protected-resource/mcp"'
    )
    # The audience defaults to the resource URL.
    right = token_for(key_pair, "https://sample.example.com/mcp", "mcp:access")
    wrong = token_for(key_pair, "https://other.example.com/mcp", "mcp:access")
    headers = {**MCP_HEADERS}
    assert (
        httpx.post(
            port_server.mcp_url,
            json=INITIALIZE,
            headers={**headers, "Authorization": f"Bearer {right}"},
        ).status_code
        == 200
    )
    assert (
        httpx.post(
            port_server.mcp_url,
            json=INITIALIZE,
            headers={**headers, "Authorization": f"Bearer {wrong}"},
        ).status_code
        == 401
    )


def test_a_token_for_the_resource_the_metadata_names_is_taken_however_the_url_is_written(
    start_server: StartServer, key_pair: RSAKeyPair
) -> None:
    """MCP clients ask for tokens for the metadata's `resource` (RFC 8707), which names the
    URL in its usual form: a token for it is for this server, as one for the URL as written."""
    server = start_server(
        env={
            "MCP_JWT_PUBLIC_KEY": key_pair.public_key,
            "MCP_JWT_ISSUER": ISSUER,
            "MCP_RESOURCE_URL": "https://Sample.Example.com:443/mcp",
        }
    )
    document = httpx.get(f"{server.base_url}/.well-known/oauth-protected-resource/mcp").json()
    assert document["resource"] == "https://sample.example.com/mcp"
    for audience, status in (
        ("https://sample.example.com/mcp", 200),
        ("https://Sample.Example.com:443/mcp", 200),
        ("https://other.example.com/mcp", 401),
    ):
        token = token_for(key_pair, audience)
        response = httpx.post(
            server.mcp_url,
            json=INITIALIZE,
            headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"},
        )
        assert response.status_code == status, audience
