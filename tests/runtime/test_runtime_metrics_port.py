"""MCP_METRICS_PORT: /metrics on a port of its own and only there, one process or several."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest
from harness.jsonrpc import modern_request
from harness.processes import LOOPBACK, free_port, server_env
from harness.runtime import SAMPLE_SERVER, StartServer
from harness.tool_calls import call_tool

CALLS = 'mcp_tool_calls_total{outcome="ok",tool="echo"}'


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_are_served_on_their_port_alone(start_server: StartServer, workers: str) -> None:
    metrics_port = free_port()
    server = start_server(env={"MCP_METRICS_PORT": str(metrics_port), "MCP_WORKERS": workers})
    server.wait_ready()
    for _ in range(5):
        response = call_tool(server.mcp_url, "echo", {"text": "x"})
        assert response.status_code == 200, response.text
        assert not response.json()["result"]["isError"], response.text
    # Whichever worker answers the scrape, it sums both.
    assert server.metrics_url == f"http://{LOOPBACK}:{metrics_port}/metrics"
    for _ in range(4):
        assert httpx.get(server.metrics_url, timeout=10).status_code == 200
        assert server.metric(CALLS) == 5
    on_mcp_port = {path: httpx.get(server.base_url + path).status_code for path in
                   ("/metrics", "/ready", "/health")}  # fmt: skip
    assert on_mcp_port == {"/metrics": 404, "/ready": 200, "/health": 200}
    on_metrics_port = {
        path: httpx.get(f"http://{LOOPBACK}:{metrics_port}{path}").status_code
        for path in ("/ready", "/health", "/mcp", "/metrics/")
    }
    assert set(on_metrics_port.values()) == {404}, on_metrics_port
    headers, body = modern_request("tools/list", {})
    refused = httpx.post(f"http://{LOOPBACK}:{metrics_port}/mcp", json=body, headers=headers)
    assert refused.status_code == 404
    assert server.stop() == 0


def test_metrics_port_equal_to_the_mcp_port_is_refused_by_name() -> None:
    port = free_port()
    result = subprocess.run(
        [sys.executable, str(SAMPLE_SERVER)],
        env=server_env(port, {"MCP_METRICS_PORT": str(port)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"MCP_METRICS_PORT and MCP_PORT are both {port}; /metrics needs a port of its own"
    ), result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_metrics_port_in_use_stops_the_start(workers: str) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        held = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(SAMPLE_SERVER)],
            env=server_env(free_port(), {"MCP_METRICS_PORT": str(held), "MCP_WORKERS": workers}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"MCP_METRICS_PORT: cannot listen on {LOOPBACK}:{held}" in result.stderr, result.stderr
