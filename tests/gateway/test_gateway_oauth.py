"""The gateway as an OAuth resource server with tokens from a real provider (Ory Hydra): it
checks tokens for its own audience, applies its grants to the namespaced tool names, and
keeps the caller's token to itself (MCP forbids passing it on)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import fastmcp
import httpx
import pytest
from gateway_env import StartGateway, upstreams_env
from harness import processes
from harness.hydra import Hydra
from harness.jsonrpc import modern_request
from harness.processes import ServerProcess
from harness.servers import VENV_BIN

SHARED_TOKEN = "upstream-shared-token"


@pytest.fixture(scope="module")
def gateway(
    hydra: Hydra, witness: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    port = processes.free_port()
    env = {
        **upstreams_env({"witness": {"url": witness.mcp_url}}),
        "MCP_JWT_ISSUER": hydra.issuer,
        "MCP_JWT_JWKS_URI": hydra.jwks_uri,
        "MCP_RESOURCE_URL": f"http://{processes.LOOPBACK}:{port}/mcp",
        "MCP_TOOL_GRANTS": json.dumps({"witness:use": ["witness_whoami"]}),
    }
    log = tmp_path_factory.mktemp("gateway-oauth") / "gateway.log"
    server = processes.launch([str(VENV_BIN / "mcp-gateway")], env, log, port=port)
    server.wait_ready()
    yield server
    server.stop()


def bearer(hydra: Hydra, audience: str, *scopes: str) -> str:
    client = hydra.create_client(scopes=list(scopes), audiences=[audience])
    return hydra.client_credentials_token(client, scopes=list(scopes), audience=audience)


async def test_the_callers_token_opens_the_gateway_and_stays_there(
    hydra: Hydra, gateway: ServerProcess
) -> None:
    token = bearer(hydra, gateway.mcp_url, "witness:use")
    async with fastmcp.Client(gateway.mcp_url, auth=token) as client:
        assert [tool.name for tool in await client.list_tools()] == ["witness_whoami"]
        seen = (await client.call_tool("witness_whoami", {})).structured_content
    assert seen is not None
    assert seen["authorization"] == ""


def test_a_token_for_another_audience_or_without_the_grant_is_refused(
    hydra: Hydra, gateway: ServerProcess, witness: ServerProcess
) -> None:
    elsewhere = bearer(hydra, witness.mcp_url, "witness:use")
    headers, body = modern_request("tools/list", {}, elsewhere)
    assert httpx.post(gateway.mcp_url, json=body, headers=headers).status_code == 401
    ungranted = bearer(hydra, gateway.mcp_url)
    headers, body = modern_request(
        "tools/call", {"name": "witness_whoami", "arguments": {}}, ungranted
    )
    refused = httpx.post(gateway.mcp_url, json=body, headers=headers)
    assert refused.status_code == 403
    assert 'scope="witness:use"' in refused.headers["www-authenticate"]


async def test_a_shared_token_is_still_passed_on(
    start_gateway: StartGateway, witness: ServerProcess
) -> None:
    """Mode token: one credential for the fleet, which the upstreams check as well."""
    front = start_gateway(
        {"witness": {"url": witness.mcp_url}}, env={"MCP_AUTH_TOKEN": SHARED_TOKEN}
    )
    async with fastmcp.Client(front.mcp_url, auth=SHARED_TOKEN) as client:
        seen = (await client.call_tool("witness_whoami", {})).structured_content
    assert seen is not None
    assert seen["authorization"] == f"Bearer {SHARED_TOKEN}"
