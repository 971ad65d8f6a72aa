"""The chart's values files and the README's demo on the cluster: `ct install` of every file
in charts/mcp-servers/ci/ (with helm test), and `make demo`'s fleet answering the client configs
it prints. Apart from test_cluster.py so that the two pytest-xdist workers of the cluster tests
share the long tests evenly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from kube import Kube

# ct installs a dozen values files one after another, each with its helm test.
pytestmark = pytest.mark.timeout(1200)

CHART = Path(__file__).resolve().parents[2] / "charts" / "mcp-servers"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))


def test_ct_install_every_ci_values_file(
    repo_root: Path, kube: Kube, server_images: list[str], in_cluster_postgresql: None
) -> None:
    result = kube.run("bash", "scripts/ct-install.sh", check=False, timeout=3000)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for values in CI_VALUES:
        assert f"charts/mcp-servers/ci/{values.name}" in output, values.name
    # helm test ran the chart's MCP smoke pod once per values file, and every one passed.
    phases = re.findall(r"^Phase:\s+(\w+)", output, re.MULTILINE)
    assert phases and set(phases) == {"Succeeded"}, phases
    assert "All charts installed successfully" in output


async def test_demo_installs_the_fleet_and_prints_a_working_mcp_json(
    repo_root: Path, kube: Kube, server_images: list[str]
) -> None:
    result = kube.run("bash", "scripts/demo.sh", check=False, timeout=1200)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # helm test's pod of each server answered, and its logs were read (no "Error:" line).
    for server in ("todo", "postgres", "memory", "greeter"):
        assert re.search(rf"^ok: {server} at http://\S+: \d+ tools, called", output, re.M), output
    assert "Error:" not in output, output[-4000:]
    assert re.search(r"todo\.create_task -> id \d+", output), output[-2000:]
    assert "memory.recall    -> 'The demo fleet runs on a local Kubernetes node.'" in output
    printed = result.stdout[result.stdout.index("{", result.stdout.index(".mcp.json")) :]
    servers = json.JSONDecoder().raw_decode(printed)[0]["mcpServers"]
    assert set(servers) == {"todo", "postgres", "memory", "greeter"}
    # The printed URLs answer a real MCP client (through the demo's port-forwards).
    async with Client(servers["greeter"]["url"]) as client:
        tools = await client.list_tools()
    assert [tool.name for tool in tools] == ["greet"]
    # The reference backend beside the fleet, at the URL the demo prints.
    assert re.search(r"todo-backend: POST /api/tasks -> id \d+", output), output[-2000:]
    backend = re.search(r"The reference backend: (http://\S+)", output)
    assert backend, output[-2000:]
    tasks = httpx.get(backend.group(1), params={"limit": 1}, timeout=30)
    assert tasks.status_code == 200 and tasks.json()["total"] >= 1, tasks.text
