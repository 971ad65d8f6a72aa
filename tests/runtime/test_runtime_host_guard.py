"""DNS-rebinding protection on /mcp: Host and Origin must be ones the settings allow."""

from __future__ import annotations

import httpx
import pytest
from runtime_harness import RunningServer, StartServer

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


@pytest.fixture(scope="module")
def server(start_module_server: StartServer) -> RunningServer:
    return start_module_server(
        env={
            "MCP_ALLOWED_HOSTS": "todo.mcp.svc,todo.mcp.svc.cluster.local",
            "MCP_ALLOWED_ORIGINS": "https://console.example",
        }
    )


def initialize(server: RunningServer, host: str, origin: str | None = None) -> int:
    headers = {"Accept": "application/json, text/event-stream", "Host": host}
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
def test_allowed_hosts_pass(server: RunningServer, host: str) -> None:
    assert initialize(server, host.format(port=server.port)) == 200


@pytest.mark.parametrize("host", ["evil.example", "todo.mcp.svc.evil.example", "10.0.0.7:8001"])
def test_other_hosts_are_rejected(server: RunningServer, host: str) -> None:
    assert initialize(server, host) == 421


def test_origins_are_checked(server: RunningServer) -> None:
    assert initialize(server, "todo.mcp.svc", origin="https://console.example") == 200
    assert initialize(server, "todo.mcp.svc", origin="https://evil.example") == 403


def test_probes_answer_any_host(server: RunningServer) -> None:
    # The kubelet probes the pod IP, which no allow-list names.
    for path in ("/health", "/ready", "/metrics"):
        response = httpx.get(f"{server.base_url}{path}", headers={"Host": "10.0.0.7:8001"})
        assert response.status_code == 200, path
