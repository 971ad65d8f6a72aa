"""MCP_METRICS_PORT: /metrics on a port of its own and only there, one process or several."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest
from harness.jsonrpc import modern_request
from harness.processes import LOOPBACK, ServerProcess, free_port, server_env
from harness.runtime import SAMPLE_SERVER, StartServer

CALLS = 'mcp_tool_calls_total{outcome="ok",tool="echo"}'


def scrape(port: int, series: str) -> float:
    response = httpx.get(f"http://{LOOPBACK}:{port}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    for line in response.text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")


def echo(server: ServerProcess) -> None:
    headers, body = modern_request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
    response = httpx.post(server.mcp_url, json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert not response.json()["result"]["isError"], response.text


@pytest.mark.parametrize("workers", ["1", "2"])
def test_metrics_are_served_on_their_port_alone(start_server: StartServer, workers: str) -> None:
    metrics_port = free_port()
    server = start_server(env={"MCP_METRICS_PORT": str(metrics_port), "MCP_WORKERS": workers})
    server.wait_ready()
    for _ in range(5):
        echo(server)
    # Whichever worker answers the scrape, it sums both.
    for _ in range(4):
        assert scrape(metrics_port, CALLS) == 5
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
