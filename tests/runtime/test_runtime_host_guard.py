"""DNS-rebinding protection on /mcp: Host and Origin must be ones the settings allow."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from harness.jsonrpc import INITIALIZE, MCP_HEADERS
from harness.processes import ServerProcess
from harness.runtime import StartServer


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> ServerProcess:
    return start_module_server(
        env={
            "MCP_ALLOWED_HOSTS": "todo.mcp.svc,todo.mcp.svc.cluster.local",
            "MCP_ALLOWED_ORIGINS": "https://console.example",
        }
    )


def initialize(server: ServerProcess, host: str, origin: str | None = None) -> int:
    headers = {**MCP_HEADERS, "Host": host}
    if origin is not None:
        headers["Origin"] = origin
    return httpx.post(server.mcp_url, json=INITIALIZE, headers=headers).status_code


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "127.0.0.1:{port}",
        "todo.mcp.svc",
        "todo.mcp.svc:8001",
        "todo.mcp.svc.cluster.local",
    ],
)
def test_allowed_hosts_pass(server: ServerProcess, host: str) -> None:
    assert initialize(server, host.format(port=server.port)) == 200


@pytest.mark.parametrize("host", ["evil.example", "todo.mcp.svc.evil.example", "10.0.0.7:8001"])
def test_other_hosts_are_rejected(server: ServerProcess, host: str) -> None:
    assert initialize(server, host) == 421


def test_origins_are_checked(server: ServerProcess) -> None:
    assert initialize(server, "todo.mcp.svc", origin="https://console.example") == 200
    assert initialize(server, "todo.mcp.svc", origin="https://evil.example") == 403


def test_probes_answer_any_host(server: ServerProcess) -> None:
    # The kubelet probes the pod IP, which no allow-list names.
    for path in ("/health", "/ready", "/metrics"):
        response = httpx.get(f"{server.base_url}{path}", headers={"Host": "10.0.0.7:8001"})
        assert response.status_code == 200, path


@pytest.mark.parametrize("path", ["/gated?gate={gate}", "/secret"])
def test_extra_routes_get_the_same_guard(server: ServerProcess, path: str, tmp_path: Path) -> None:
    # /gated is a plain extra route, /secret a protected one (open here: no auth set).
    gate = tmp_path / "gate"
    gate.touch()
    url = f"{server.base_url}{path.format(gate=gate)}"
    assert httpx.get(url, headers={"Host": "todo.mcp.svc:8001"}).status_code == 200
    assert httpx.get(url, headers={"Host": "evil.example:8001"}).status_code == 421
    foreign = {"Host": "todo.mcp.svc", "Origin": "http://evil.example"}
    assert httpx.get(url, headers=foreign).status_code == 403
    allowed = {"Host": "todo.mcp.svc", "Origin": "https://console.example"}
    assert httpx.get(url, headers=allowed).status_code == 200
