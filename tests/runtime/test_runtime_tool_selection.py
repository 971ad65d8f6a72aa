"""`tools` in MCP_SERVER_CONFIG (the chart's `config.tools`) picks the tools a server serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fastmcp
import httpx
from harness.processes import free_port, server_env
from harness.runtime import SAMPLE_SERVER, StartServer

SAMPLE_TOOLS = (
    "confirmed, echo, fail, gated_echo, loaded_modules, process_id, protocol_version, slow_echo"
)


def config_file(tmp_path: Path, config: object) -> str:
    path = tmp_path / "server-config.json"
    path.write_text(json.dumps(config))
    return str(path)


async def test_only_listed_tools_are_served(start_server: StartServer, tmp_path: Path) -> None:
    config = config_file(tmp_path, {"name": "sample", "tools": ["echo", "fail"]})
    server = start_server(env={"MCP_SERVER_CONFIG": config})
    async with fastmcp.Client(server.mcp_url) as client:
        assert sorted(tool.name for tool in await client.list_tools()) == ["echo", "fail"]
        assert (await client.call_tool("echo", {"text": "hi"})).data == "hi"
        hidden = await client.call_tool(
            "slow_echo", {"text": "hi", "seconds": 0}, raise_on_error=False
        )
        assert hidden.is_error
    metrics = httpx.get(f"{server.base_url}/metrics").text
    assert 'tool="echo"' in metrics
    assert 'tool="slow_echo"' not in metrics


async def test_empty_tools_list_serves_every_tool(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server(env={"MCP_SERVER_CONFIG": config_file(tmp_path, {"tools": []})})
    async with fastmcp.Client(server.mcp_url) as client:
        names = sorted(tool.name for tool in await client.list_tools())
    assert ", ".join(names) == SAMPLE_TOOLS


def start_failing(config: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SAMPLE_SERVER)],
        env={**server_env(free_port(), {}), "MCP_SERVER_CONFIG": config},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unknown_tool_stops_the_start_with_one_line(tmp_path: Path) -> None:
    result = start_failing(config_file(tmp_path, {"tools": ["echo", "ecko"]}))
    assert result.returncode == 2
    assert result.stderr == (
        f"MCP_SERVER_CONFIG: tools: unknown tool ecko; valid tools: {SAMPLE_TOOLS}\n"
    )


def test_tools_must_be_a_list_of_names(tmp_path: Path) -> None:
    result = start_failing(config_file(tmp_path, {"tools": "echo"}))
    assert result.returncode == 2
    assert result.stderr == "MCP_SERVER_CONFIG: tools must be a list of tool names\n"
