"""The MCP Inspector CLI (session-based protocol, from npm) against a bridge serving npm's
server-everything: what someone trying a bridged community server by hand sees."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from harness.bridge import RunningBridge, start_bridge
from harness.npm import inspector_cli, install_inspector


@pytest.fixture(scope="module")
def everything_bridge(
    tmp_path_factory: pytest.TempPathFactory, everything_server: list[str]
) -> Iterator[RunningBridge]:
    install_inspector()
    running = start_bridge(tmp_path_factory.mktemp("inspector"), everything_server)
    running.wait_ready()
    yield running
    running.stop()


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_inspector_lists_the_tools_of_the_child(everything_bridge: RunningBridge) -> None:
    listed = _json(inspector_cli(everything_bridge.mcp_url, "--method", "tools/list"))
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert {"echo", "get-sum", "get-env"} <= tools.keys()
    assert tools["echo"]["description"] == "Echoes back the input string"
    assert tools["echo"]["inputSchema"]["required"] == ["message"]


def test_inspector_calls_tools_of_the_child(everything_bridge: RunningBridge) -> None:
    echoed = _json(
        inspector_cli(
            everything_bridge.mcp_url,
            "--method",
            "tools/call",
            "--tool-name",
            "echo",
            "--tool-arg",
            "message=hello from the inspector",
        )
    )
    assert echoed["content"] == [{"type": "text", "text": "Echo: hello from the inspector"}]
    assert not echoed["isError"]

    # Values are parsed as JSON, so get-sum receives numbers.
    summed = _json(
        inspector_cli(
            everything_bridge.mcp_url,
            "--method",
            "tools/call",
            "--tool-name",
            "get-sum",
            "--tool-arg",
            "a=2",
            "b=3",
        )
    )
    assert summed["content"][0]["text"] == "The sum of 2 and 3 is 5."
    assert everything_bridge.metric('mcp_tool_calls_total{outcome="ok",tool="get-sum"}') == 1
