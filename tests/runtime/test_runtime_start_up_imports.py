"""A default server imports only what its configuration needs.

The todo server on SQLite, with no auth configured, runs under an import recorder from start
through tool calls, one that works and three that fail, to its SIGTERM exit. No WebSocket,
YAML, OAuth, JOSE or JWT library, no HTTP client and no griffe (todo's docstrings are plain
prose, `mcp_runtime.docstrings`) may be loaded at all; nor rich, which structlog would load
for its console renderer (`mcp_runtime.structlog_import`) and FastMCP for a log handler the
runtime replaces, nor joserfc, which FastMCP's OAuth module imports, nor httpx2, which
FastMCP's server imports, nor uvicorn's command line with click and watchfiles, nor the MCP
SDK's client and high-level server, which its package imports (all
`mcp_runtime.deferred_imports`). The MCP SDK 2.3.0 itself imports cryptography (for its
request-state sealing, which FastMCP sets up for every server): it may be loaded, but only
by exactly that importer, so nothing in the runtime or a server adds to it (the JWT
verifier, for one, is imported only when MCP_JWT_* is set).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from harness.processes import ServerProcess
from harness.tool_calls import call_todo_every_way

# Never loaded by a default server.
ABSENT = {
    "yaml",
    "authlib",
    "httpx",
    "websockets",
    "jwt",
    "requests",
    "aiohttp",
    "griffe",
    "rich",
    "joserfc",
    "click",
    "watchfiles",
    "httpx2",
}
ABSENT_MODULES = {
    "pygments",
    "attr",
    "uvicorn.main",
    "cryptography.x509",
    "mcp.client",
    "mcp.server.mcpserver",
}

# Loaded by FastMCP and the SDK on their own, from these modules (prefixes end with ".").
UPSTREAM_IMPORTERS = {
    "cryptography": {"mcp.server.request_state"},
}

# Runs a server module as `python -m` would, recording which module first imports each
# watched package (an import statement's `__import__` call), and writes what it saw at exit.
RECORDER = """
import atexit, builtins, json, runpy, sys
out, watched, module = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3]
importers = {}
_import = builtins.__import__
def recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    top = name.partition(".")[0]
    if level == 0 and top in watched:
        importer = (globals or {}).get("__name__", "?")
        if importer.partition(".")[0] != top:
            importers.setdefault(top, set()).add(importer)
    return _import(name, globals, locals, fromlist, level)
builtins.__import__ = recording_import
def report():
    loaded = sorted({name.partition(".")[0] for name in sys.modules} & watched)
    found = {top: sorted(names) for top, names in importers.items()}
    with open(out, "w") as file:
        json.dump({"loaded": loaded, "importers": found, "modules": sorted(sys.modules)}, file)
atexit.register(report)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _allowed(importer: str, allowed: set[str]) -> bool:
    return any(
        importer.startswith(entry) if entry.endswith(".") else importer == entry
        for entry in allowed
    )


# With the fast path and through plain FastMCP: failing calls take different paths in each.
@pytest.mark.parametrize("fast_path", ["true", "false"], ids=["fast-path", "fastmcp"])
def test_a_default_todo_server_loads_no_library_it_does_not_need(
    tmp_path: Path, fast_path: str
) -> None:
    report = tmp_path / "imports.json"
    watched = ABSENT | UPSTREAM_IMPORTERS.keys()
    command = [sys.executable, "-c", RECORDER, str(report), ",".join(sorted(watched)), "mcp_todo"]
    env = {"MCP_DATA_DIR": str(tmp_path / "data"), "MCP_FAST_PATH": fast_path}
    server = ServerProcess(command, env, tmp_path / "log")
    with server:
        server.wait_ready()
        # Calls that work and that fail each way a tool call can: none of them may load what
        # start-up did not.
        call_todo_every_way(server.mcp_url)
        assert server.stop() == 0
    seen = json.loads(report.read_text())
    assert set(seen["loaded"]) & ABSENT == set()
    assert set(seen["modules"]) & ABSENT_MODULES == set()
    unexpected = {
        package: [name for name in importers if not _allowed(name, UPSTREAM_IMPORTERS[package])]
        for package, importers in seen["importers"].items()
        if package in UPSTREAM_IMPORTERS
    }
    assert {package: names for package, names in unexpected.items() if names} == {}
