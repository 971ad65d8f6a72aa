"""scripts/client_configs.py: the one generator of the clients' configurations."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from harness.client_configs import PATH, client_configs

SERVERS = {"todo": "http://127.0.0.1:8001/mcp", "memory": "http://127.0.0.1:8003/mcp"}


def test_claude_code_mcp_json() -> None:
    assert client_configs.claude_code(SERVERS) == {
        "mcpServers": {
            "todo": {"type": "http", "url": SERVERS["todo"]},
            "memory": {"type": "http", "url": SERVERS["memory"]},
        }
    }
    with_auth = client_configs.claude_code(SERVERS, auth=True)["mcpServers"]["todo"]
    assert with_auth["headers"] == {"Authorization": "Bearer ${MCP_TOKEN}"}


def test_vscode_mcp_json() -> None:
    assert client_configs.vscode(SERVERS)["servers"]["todo"] == {
        "type": "http",
        "url": SERVERS["todo"],
    }
    with_auth = client_configs.vscode(SERVERS, auth=True)
    assert with_auth["servers"]["todo"]["headers"] == {"Authorization": "Bearer ${input:mcp-token}"}
    assert with_auth["inputs"][0]["id"] == "mcp-token" and with_auth["inputs"][0]["password"]


def test_cursor_mcp_json() -> None:
    assert client_configs.cursor(SERVERS) == {
        "mcpServers": {"todo": {"url": SERVERS["todo"]}, "memory": {"url": SERVERS["memory"]}}
    }
    assert client_configs.cursor(SERVERS, auth=True)["mcpServers"]["todo"]["headers"] == {
        "Authorization": "Bearer ${env:MCP_TOKEN}"
    }


def test_claude_mcp_add_lines() -> None:
    assert client_configs.claude_cli(SERVERS) == [
        "claude mcp add --transport http todo http://127.0.0.1:8001/mcp",
        "claude mcp add --transport http memory http://127.0.0.1:8003/mcp",
    ]
    (line, _) = client_configs.claude_cli(SERVERS, auth=True)
    # Single-quoted would send the literal text "$MCP_TOKEN".
    assert line.endswith(' --header "Authorization: Bearer $MCP_TOKEN"')


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PATH), *args], capture_output=True, text=True, check=False
    )


def test_cli_prints_each_format() -> None:
    pairs = [f"{name}={url}" for name, url in SERVERS.items()]
    claude = run(*pairs)
    assert json.loads(claude.stdout) == client_configs.claude_code(SERVERS)
    every = run("--format", "all", "--auth", *pairs).stdout
    # .mcp.json comes first, so that whatever parses from the first "{" gets it.
    first, _ = json.JSONDecoder().raw_decode(every[every.index("{") :])
    assert first == client_configs.claude_code(SERVERS, auth=True)
    assert every.rstrip().endswith("\n".join(client_configs.claude_cli(SERVERS, auth=True)))
    assert "VS Code" in every and "Cursor" in every


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["todo"], "'todo': expected NAME=URL"),
        (["todo=ftp://x"], "'todo=ftp://x': expected NAME=URL with an http(s) URL"),
        (["todo=http://a/mcp", "todo=http://b/mcp"], "todo: given twice"),
    ],
)
def test_cli_refuses_bad_servers(args: list[str], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert f"client_configs.py: {message}" in done.stderr
