"""The todo server as an OAuth 2.1 resource server (MCP's authorization specification) with
tokens from a real OpenID provider, Ory Hydra: metadata, challenges, audience, issuer, key,
times, scopes, per-tool grants, rate limits and key rotation, through real MCP clients."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import fastmcp
import httpx
import httpx2
import mcp
import pytest
from fastmcp.server.auth.providers.jwt import RSAKeyPair
from harness import processes
from harness.hydra import Hydra, OAuthClient
from harness.jsonrpc import INITIALIZE, MCP_HEADERS, modern_request
from harness.processes import ServerProcess
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

VENV_BIN = Path(sys.executable).parent
ACCESS = "mcp:access"
READ = "todo:read"
WRITE = "todo:write"
GRANTS = {READ: ["@read-only"], WRITE: ["*"]}
READ_ONLY_TOOLS = {"list_tasks", "get_task"}
ALL_TOOLS = {"create_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"}


def launch_todo(hydra: Hydra, logs: Path, **extra: str) -> ServerProcess:
    """mcp-todo taking Hydra's tokens for its own URL, as the chart's `auth.mode: oauth` sets it."""
    port = processes.free_port()
    env = {
        "MCP_DATA_DIR": str(logs / "data"),
        "MCP_JWT_ISSUER": hydra.issuer,
        "MCP_JWT_JWKS_URI": hydra.jwks_uri,
        "MCP_RESOURCE_URL": f"http://{processes.LOOPBACK}:{port}/mcp",
        "MCP_JWT_REQUIRED_SCOPES": ACCESS,
        # Rotation is picked up on the first token with the new key id.
        "MCP_JWT_JWKS_REFRESH_SECONDS": "0",
        "MCP_TOOL_GRANTS": json.dumps(GRANTS),
        **extra,
    }
    return processes.launch([str(VENV_BIN / "mcp-todo")], env, logs / "todo.log", port=port)


@pytest.fixture(scope="module")
def todo(hydra: Hydra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = launch_todo(hydra, tmp_path_factory.mktemp("todo-oauth"))
    yield server
    server.kill()


@pytest.fixture(scope="module")
def client(hydra: Hydra, todo: ServerProcess) -> OAuthClient:
    """A machine client registered for every scope, and for the todo server as audience."""
    return hydra.create_client(scopes=[ACCESS, READ, WRITE], audiences=[todo.mcp_url])


def token(hydra: Hydra, client: OAuthClient, audience: str, *scopes: str) -> str:
    return hydra.client_credentials_token(client, scopes=list(scopes), audience=audience)


def initialize(server: ServerProcess, bearer: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return httpx.post(server.mcp_url, json=INITIALIZE, headers=headers)


def call(
    server: ServerProcess, bearer: str, name: str, arguments: dict[str, Any]
) -> httpx.Response:
    headers, body = modern_request("tools/call", {"name": name, "arguments": arguments}, bearer)
    return httpx.post(server.mcp_url, json=body, headers=headers)


def test_metadata_names_the_resource_its_provider_and_scopes(
    hydra: Hydra, todo: ServerProcess
) -> None:
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        response = httpx.get(f"{todo.base_url}{path}")
        assert response.status_code == 200, path
        assert response.json() == {
            "resource": todo.mcp_url,
            "authorization_servers": [hydra.issuer],
            "scopes_supported": [ACCESS, READ, WRITE],
            "bearer_methods_supported": ["header"],
        }
    # What a client does next: the provider's own metadata names the same issuer.
    assert hydra.discovery()["issuer"] == hydra.issuer


def test_no_token_is_401_pointing_at_the_metadata_and_probes_stay_open(todo: ServerProcess) -> None:
    response = initialize(todo, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="{ACCESS}", resource_metadata='
        f'"{todo.base_url}/.well-known/oauth-protected-resource/mcp"'
    )
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(f"{todo.base_url}{path}").status_code == 200, path


async def test_a_token_for_this_server_works_through_both_mcp_clients(
    hydra: Hydra, todo: ServerProcess, client: OAuthClient
) -> None:
    bearer = token(hydra, client, todo.mcp_url, ACCESS, READ, WRITE)
    assert initialize(todo, bearer).status_code == 200
    async with fastmcp.Client(todo.mcp_url, auth=bearer) as fast:
        created = await fast.call_tool("create_task", {"title": "from hydra"})
        assert created.structured_content["title"] == "from hydra"  # type: ignore[index]
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}) as http,
        mcp.Client(streamable_http_client(todo.mcp_url, http_client=http)) as sdk,
    ):
        assert not (await sdk.call_tool("list_tasks", {})).is_error
    # Each call's event names the caller Hydra issued the token to.
    calls = [
        json.loads(line)
        for line in todo.log_text().splitlines()
        if '"tool_call"' in line and '"create_task"' in line
    ]
    assert (calls[-1]["subject"], calls[-1]["client_id"]) == (client.client_id, client.client_id)


@pytest.mark.parametrize("audience", ["https://other.example.com/mcp", None])
def test_a_token_for_another_audience_or_none_is_401(
    hydra: Hydra, todo: ServerProcess, audience: str | None
) -> None:
    other = hydra.create_client(scopes=[ACCESS], audiences=[] if audience is None else [audience])
    bearer = hydra.client_credentials_token(other, scopes=[ACCESS], audience=audience)
    response = initialize(todo, bearer)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_token_of_another_issuer_or_unknown_key_is_401(
    hydra: Hydra, todo: ServerProcess, tmp_path: Path
) -> None:
    # A second, real provider: its own issuer and keys.
    with Hydra(tmp_path) as stranger:
        foreign = stranger.create_client(scopes=[ACCESS], audiences=[todo.mcp_url])
        bearer = stranger.client_credentials_token(foreign, scopes=[ACCESS], audience=todo.mcp_url)
        assert initialize(todo, bearer).status_code == 401
    # The right issuer and audience, signed by a key the issuer never published.
    forged = RSAKeyPair.generate().create_token(
        issuer=hydra.issuer, audience=todo.mcp_url, scopes=[ACCESS, WRITE], kid="not-in-jwks"
    )
    assert initialize(todo, forged).status_code == 401


def test_an_expired_token_is_401(hydra: Hydra, todo: ServerProcess) -> None:
    short = hydra.create_client(scopes=[ACCESS], audiences=[todo.mcp_url])
    lifespans = httpx.put(
        f"{hydra.admin_url}/admin/clients/{short.client_id}/lifespans",
        json={"client_credentials_grant_access_token_lifespan": "8s"},
    )
    assert lifespans.status_code == 200, lifespans.text
    bearer = hydra.client_credentials_token(short, scopes=[ACCESS], audience=todo.mcp_url)
    # Long enough to be used once even on a stalled machine; then past its `exp` (which the
    # server checks without leeway, as FastMCP's verifier does).
    assert initialize(todo, bearer).status_code == 200
    time.sleep(max(0.0, expiry(bearer) - time.time()) + 1)
    assert initialize(todo, bearer).status_code == 401


def expiry(token: str) -> float:
    """The `exp` of a JWT, read without checking it."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return float(claims["exp"])


def test_without_the_required_scope_is_403_insufficient_scope(
    hydra: Hydra, todo: ServerProcess, client: OAuthClient
) -> None:
    response = initialize(todo, token(hydra, client, todo.mcp_url, READ))
    assert response.status_code == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": f"Required scope: {ACCESS}",
    }


async def test_a_read_scope_lists_and_calls_read_only_tools_but_not_writes(
    hydra: Hydra, todo: ServerProcess, client: OAuthClient
) -> None:
    reader = token(hydra, client, todo.mcp_url, ACCESS, READ)
    writer = token(hydra, client, todo.mcp_url, ACCESS, READ, WRITE)
    bare = token(hydra, client, todo.mcp_url, ACCESS)
    async with fastmcp.Client(todo.mcp_url, auth=reader) as fast:
        assert {tool.name for tool in await fast.list_tools()} == READ_ONLY_TOOLS
        assert not (await fast.call_tool("list_tasks", {})).is_error
    async with fastmcp.Client(todo.mcp_url, auth=writer) as fast:
        assert {tool.name for tool in await fast.list_tools()} == ALL_TOOLS
    async with fastmcp.Client(todo.mcp_url, auth=bare) as fast:
        assert await fast.list_tools() == []
    # A write asks the caller to step up to the scope that opens it.
    denied = call(todo, reader, "delete_task", {"task_id": 1})
    assert denied.status_code == 403
    assert denied.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{ACCESS} {WRITE}",'
        " error_description=\"tool 'delete_task' needs the scope todo:write\","
        f' resource_metadata="{todo.base_url}/.well-known/oauth-protected-resource/mcp"'
    )
    decisions = [
        json.loads(line)
        for line in todo.log_text().splitlines()
        if '"tool_authorization"' in line and '"delete_task"' in line
    ]
    assert decisions[-1]["allowed"] is False
    assert decisions[-1]["subject"] == client.client_id
    assert (
        todo.metric(
            'mcp_tool_authorizations_total{action="call",decision="denied",tool="delete_task"}'
        )
        >= 1
    )


def test_the_rest_routes_open_what_the_grants_open_of_the_tools_they_mirror(
    hydra: Hydra, todo: ServerProcess, client: OAuthClient
) -> None:
    """/tasks does the tools' work: a token whose grants do not open create_task must not
    create a task with POST /tasks, nor one without a grant read them."""
    reader = {"Authorization": f"Bearer {token(hydra, client, todo.mcp_url, ACCESS, READ)}"}
    writer = {"Authorization": f"Bearer {token(hydra, client, todo.mcp_url, ACCESS, READ, WRITE)}"}
    bare = {"Authorization": f"Bearer {token(hydra, client, todo.mcp_url, ACCESS)}"}
    tasks = f"{todo.base_url}/tasks"
    created = httpx.post(tasks, json={"title": "by the writer"}, headers=writer)
    assert created.status_code == 201
    task = f"{tasks}/{created.json()['id']}"
    assert httpx.get(task, headers=reader).status_code == 200
    assert httpx.get(tasks, headers=reader).status_code == 200
    for method, url, headers, tool, grants in (
        ("POST", tasks, reader, "create_task", WRITE),
        ("DELETE", task, reader, "delete_task", WRITE),
        ("GET", tasks, bare, "list_tasks", f"{READ}, {WRITE}"),
    ):
        kwargs: dict[str, Any] = {"json": {"title": "x"}} if method == "POST" else {}
        refused = httpx.request(method, url, headers=headers, **kwargs)
        assert refused.status_code == 403, (method, url)
        assert refused.json() == {
            "error": f"authorization: tool '{tool}' needs one of the grants {grants}"
            " in the token's 'scope' claim"
        }
        first = grants.split(",")[0]
        assert refused.headers["www-authenticate"] == (
            f'Bearer error="insufficient_scope", scope="{ACCESS} {first}"'
        )
    assert httpx.get(task, headers=reader).status_code == 200, "a refused DELETE deleted"
    assert httpx.delete(task, headers=writer).status_code == 204


def test_a_caller_over_its_rate_limit_gets_429_then_recovers(hydra: Hydra, tmp_path: Path) -> None:
    with launch_todo(hydra, tmp_path, MCP_RATE_LIMIT_PER_CALLER="5 per 10 second") as limited:
        other = hydra.create_client(scopes=[ACCESS, READ], audiences=[limited.mcp_url])
        others = hydra.client_credentials_token(
            other, scopes=[ACCESS, READ], audience=limited.mcp_url
        )
        # The counter weighs the window before by the part of it still in view, rounded down:
        # a burst that straddles two windows gets one more through (the first call after the
        # boundary, even after a 429), unless it took over a fifth of the window (a stall of
        # this machine): then another client tries again.
        for _ in range(3):
            caller = hydra.create_client(scopes=[ACCESS, READ], audiences=[limited.mcp_url])
            bearer = hydra.client_credentials_token(
                caller, scopes=[ACCESS, READ], audience=limited.mcp_url
            )
            began = time.monotonic()
            burst = [call(limited, bearer, "list_tasks", {}) for _ in range(8)]
            if time.monotonic() - began < 1.5:
                break
        statuses = [response.status_code for response in burst]
        assert statuses[:5] == [200] * 5 and statuses[5:].count(429) >= 2, statuses
        # The limit counts per token subject: another client is not held back.
        assert call(limited, others, "list_tasks", {}).status_code == 200
        refused = next(response for response in reversed(burst) if response.status_code == 429)
        retry_after = int(refused.headers["retry-after"])
        assert 1 <= retry_after <= 10
        time.sleep(retry_after + 1)
        assert call(limited, bearer, "list_tasks", {}).status_code == 200
        log = [
            json.loads(line) for line in limited.log_text().splitlines() if "rate_limited" in line
        ]
        assert log[-1]["caller"] == f"sub:{caller.client_id}"


def test_a_key_rotated_in_at_the_provider_is_taken_without_a_restart(
    hydra: Hydra, todo: ServerProcess, client: OAuthClient
) -> None:
    before = token(hydra, client, todo.mcp_url, ACCESS, READ)
    assert initialize(todo, before).status_code == 200
    started = todo.process.pid
    kid = hydra.rotate_signing_key()
    after = token(hydra, client, todo.mcp_url, ACCESS, READ)
    assert json.loads(_segment(after, 0))["kid"] == kid
    assert initialize(todo, after).status_code == 200
    # The old key is still published, so tokens it signed stay good until they expire.
    assert initialize(todo, before).status_code == 200
    assert todo.process.pid == started and todo.process.poll() is None


class AudienceToo(ClientCredentialsOAuthProvider):
    """The SDK's client-credentials client, naming the resource in Hydra's `audience`
    parameter as well: Hydra 2.3 ignores RFC 8707's `resource`, which is all the SDK sends,
    and would issue a token for no audience, which the server refuses (see the next test)."""

    async def _exchange_token_client_credentials(self) -> httpx2.Request:
        request = await super()._exchange_token_client_credentials()
        form = dict(parse_qsl(request.content.decode()))
        form["audience"] = form["resource"]
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        return httpx2.Request("POST", request.url, data=form, headers=headers)


class MemoryTokens(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


async def test_the_sdk_client_discovers_the_provider_and_steps_up_to_the_tools_scope(
    hydra: Hydra, todo: ServerProcess
) -> None:
    """The official SDK's OAuth client, given only client credentials: 401 -> this server's
    metadata -> Hydra's metadata -> a token with the scope the 401 named -> a call of a tool
    that scope does not open -> 403 naming the tool's scope -> a token with both -> the call."""
    machine = hydra.create_client(scopes=[ACCESS, READ], audiences=[todo.mcp_url])
    auth = AudienceToo(
        server_url=todo.mcp_url,
        storage=MemoryTokens(),
        client_id=machine.client_id,
        client_secret=machine.client_secret,
        scope=f"{ACCESS} {READ}",
        issuer=hydra.issuer,
        token_endpoint_auth_method="client_secret_basic",
    )
    async with (
        httpx2.AsyncClient(auth=auth) as http,
        mcp.Client(streamable_http_client(todo.mcp_url, http_client=http)) as sdk,
    ):
        assert (await sdk.list_tools()).tools == []
        assert not (await sdk.call_tool("list_tasks", {})).is_error
        listed = await sdk.list_tools()
        assert {tool.name for tool in listed.tools} == READ_ONLY_TOOLS


async def test_the_sdk_client_with_resource_only_gets_a_token_the_server_refuses(
    hydra: Hydra, todo: ServerProcess
) -> None:
    """What happens with Hydra and an unmodified SDK client: the token has no audience."""
    machine = hydra.create_client(scopes=[ACCESS, READ], audiences=[todo.mcp_url])
    storage = MemoryTokens()
    auth = ClientCredentialsOAuthProvider(
        server_url=todo.mcp_url,
        storage=storage,
        client_id=machine.client_id,
        client_secret=machine.client_secret,
        scope=f"{ACCESS} {READ}",
        issuer=hydra.issuer,
    )
    with pytest.raises(Exception):  # noqa: B017 - the SDK's error varies by layer
        async with (
            httpx2.AsyncClient(auth=auth) as http,
            mcp.Client(streamable_http_client(todo.mcp_url, http_client=http)) as sdk,
        ):
            await sdk.list_tools()
    assert storage.tokens is not None
    claims = json.loads(_segment(storage.tokens.access_token, 1))
    assert claims["aud"] == []
    assert "audience mismatch (got [], expected" in todo.log_text()


def _segment(jwt: str, index: int) -> str:
    import base64

    part = jwt.split(".")[index]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()
