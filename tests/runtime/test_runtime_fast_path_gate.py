"""The fast path runs only on the FastMCP and MCP SDK versions it was verified against.

On any other version (forced here by changing what counts as verified) the server serves
through plain FastMCP, never imports the fast path, and says so once in a warning.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import fastmcp
from harness.processes import ServerProcess
from harness.runtime import SAMPLE_SERVER, StartServer
from mcp_runtime.fast_path_gate import VERIFIED_VERSIONS, installed_versions

# The sample server, with a FastMCP release other than the installed one as the verified one.
UNVERIFIED = """
import runpy, sys
import mcp_runtime.fast_path_gate as gate
gate.VERIFIED_VERSIONS = {**gate.VERIFIED_VERSIONS, "fastmcp": "0.0.0"}
runpy.run_path(sys.argv[1], run_name="__main__")
"""


async def call(server: ServerProcess, tool: str, legacy: bool = False) -> Any:
    kwargs = {"mode": "legacy"} if legacy else {}
    async with fastmcp.Client(server.mcp_url, **kwargs) as client:
        return (await client.call_tool(tool, {"text": "hi"} if tool == "echo" else {})).data


def fast_path_modules(loaded: list[str]) -> list[str]:
    return [
        m for m in loaded if m == "mcp_runtime.fast_path" or m.startswith("mcp_runtime.fast_path.")
    ]


def events(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    found = []
    for line in server.log_text().splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            found.append(json.loads(line))
    return [event for event in found if event.get("event") == name]


async def test_unverified_versions_serve_through_plain_fastmcp(start_server: StartServer) -> None:
    server = start_server(command=[sys.executable, "-c", UNVERIFIED, str(SAMPLE_SERVER)])
    server.wait_ready()
    for legacy in (False, True, False):
        assert await call(server, "echo", legacy) == "hi"
    assert fast_path_modules(await call(server, "loaded_modules")) == []
    assert server.metric('mcp_tool_calls_total{outcome="ok",tool="echo"}') == 3
    [warning] = events(server, "fast_path_disabled")
    assert warning["level"] == "warning"
    assert warning["found"] == installed_versions()
    assert warning["verified"] == {**VERIFIED_VERSIONS, "fastmcp": "0.0.0"}
    assert events(server, "fast_path_enabled") == []


async def test_verified_versions_get_the_fast_path(sample_server: ServerProcess) -> None:
    assert "mcp_runtime.fast_path.endpoint" in await call(sample_server, "loaded_modules")
    assert [e["tools"] for e in events(sample_server, "fast_path_enabled")] == [8]
    assert events(sample_server, "fast_path_disabled") == []


async def test_turned_off_the_fast_path_is_never_imported(start_server: StartServer) -> None:
    server = start_server(env={"MCP_FAST_PATH": "false"})
    server.wait_ready()
    assert fast_path_modules(await call(server, "loaded_modules")) == []
    [event] = events(server, "fast_path_disabled")
    assert (event["level"], event["reason"]) == ("info", "MCP_FAST_PATH=false")
