"""DNS-rebinding protection on /mcp: Host and Origin must be ones the settings allow."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from harness.jsonrpc import INITIALIZE, MCP_HEADERS, modern_request
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


def test_each_tool_call_gets_the_verdict_of_its_own_host_and_origin(server: ServerProcess) -> None:
    """The fast path's front asks the guard once per Host and Origin and keeps its verdict:
    asked again, each gets its own, whatever came in between, and a refused call runs nothing."""
    echo_calls = 'mcp_tool_calls_total{outcome="ok",tool="echo"}'
    before = server.metric(echo_calls)
    cases = [
        ("todo.mcp.svc", None, 200),
        ("evil.example", None, 421),
        ("todo.mcp.svc", "https://evil.example", 403),
        ("todo.mcp.svc", "https://console.example", 200),
        ("todo.mcp.svc.evil.example", "https://console.example", 421),
    ]
    headers, message = modern_request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
    for _ in range(2):
        for host, origin, status in cases:
            sent = {**headers, "Host": host} | ({} if origin is None else {"Origin": origin})
            answer = httpx.post(server.mcp_url, json=message, headers=sent)
            assert answer.status_code == status, (host, origin, answer.text)
    assert server.metric(echo_calls) - before == 4


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
