"""`mcp-code-runner` serves the FastMCP server defined in the file MCP_CODE_FILE names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fastmcp
import httpx
import pytest
from harness.processes import free_port, server_env
from harness.runtime import StartServer
from mcp_runtime import SettingsLoadError
from mcp_runtime.code_runner import load_server

RUNNER = [str(Path(sys.executable).with_name("mcp-code-runner"))]


@pytest.fixture(autouse=True)
def restore_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # load_server in this process puts each test's code directory on the import path.
    monkeypatch.setattr(sys, "path", [*sys.path])
    monkeypatch.delitem(sys.modules, "arithmetic", raising=False)


SERVER_CODE = '''
from fastmcp import FastMCP

from arithmetic import add_ints

mcp = FastMCP("from-configmap")


@mcp.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return add_ints(a, b)
'''

# A second file of the same ConfigMap, imported by server.py.
SIBLING_CODE = """
def add_ints(a: int, b: int) -> int:
    return a + b
"""


async def test_runner_serves_the_file_with_the_runtime(
    start_server: StartServer, tmp_path: Path
) -> None:
    code = tmp_path / "server.py"
    code.write_text(SERVER_CODE)
    (tmp_path / "arithmetic.py").write_text(SIBLING_CODE)
    server = start_server(env={"MCP_CODE_FILE": str(code)}, command=RUNNER)
    async with fastmcp.Client(server.mcp_url) as client:
        assert (await client.call_tool("add", {"a": 2, "b": 3})).data == 5
    async with fastmcp.Client(server.mcp_url, mode="legacy") as client:
        assert [tool.name for tool in await client.list_tools()] == ["add"]
    assert httpx.get(f"{server.base_url}/ready").status_code == 200
    assert server.metric('mcp_tool_calls_total{outcome="ok",tool="add"}') == 1
    assert server.metric('mcp_build_info{server="from-configmap",version="0.1.0"}') == 1


def test_runner_process_exits_2_naming_a_missing_file(tmp_path: Path) -> None:
    code = tmp_path / "server.py"
    result = subprocess.run(
        RUNNER,
        env={**server_env(free_port(), {}), "MCP_CODE_FILE": str(code)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == f"MCP_CODE_FILE: {code} does not exist or is not a file\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("x = 1\n", "defines no FastMCP instance; define one as `mcp = FastMCP(...)`"),
        (
            "from fastmcp import FastMCP\na = FastMCP('a')\nb = FastMCP('b')\n",
            "defines 2 FastMCP instances; define one as `mcp = FastMCP(...)`",
        ),
        ("import not_a_module_anywhere\n", "failed to import: ModuleNotFoundError"),
        (
            # The MCP SDK's own server, as its documentation writes it.
            "from mcp.server import MCPServer\nmcp = MCPServer('sdk')\n",
            "defines `mcp` as a mcp.server.mcpserver.server.MCPServer, which the runner cannot"
            " serve; define it as `mcp = FastMCP(...)` (from fastmcp import FastMCP)",
        ),
    ],
    ids=["no-server", "two-servers", "import-error", "sdk-server"],
)
def test_runner_explains_a_file_it_cannot_serve(tmp_path: Path, content: str, problem: str) -> None:
    code = tmp_path / "server.py"
    code.write_text(content)
    with pytest.raises(SettingsLoadError) as error:
        load_server(code)
    assert str(error.value).startswith(f"MCP_CODE_FILE: {code} {problem}")
    assert "\n" not in str(error.value)


def test_runner_takes_the_only_server_whatever_its_name(tmp_path: Path) -> None:
    code = tmp_path / "server.py"
    code.write_text(SERVER_CODE.replace("mcp = ", "app = ").replace("@mcp.", "@app."))
    (tmp_path / "arithmetic.py").write_text(SIBLING_CODE)
    assert load_server(code).name == "from-configmap"
