"""Each server's entry pauses the cyclic collector for start-up; serving resumes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness.processes import free_port, server_env

# Imports the entry as the console script does, starts it in a thread, waits until it
# answers, then reports the collector's state before and after.
SERVE_AND_REPORT = """
import gc, os, sys, threading, time, urllib.request
import mcp_runtime.__main__ as entry
paused_at_import = not gc.isenabled()
threading.Thread(target=entry.main, daemon=True).start()
deadline = time.monotonic() + 60
while True:
    try:
        urllib.request.urlopen(sys.argv[1] + "/health", timeout=1)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.05)
print(paused_at_import, gc.isenabled(), gc.get_freeze_count(), flush=True)
# Not a normal exit: finalizing the interpreter under the server's running event loop thread
# now and then dies of SIGSEGV, after the report, failing the test for nothing it checks.
os._exit(0)
"""

SERVER_CODE = """
from fastmcp import FastMCP

mcp = FastMCP("collector")


@mcp.tool
def ping() -> str:
    return "pong"
"""


@pytest.mark.parametrize("package", ["mcp_todo", "mcp_postgres", "mcp_memory", "mcp_runtime"])
def test_importing_an_entry_pauses_the_collector(package: str) -> None:
    probe = f"import gc, {package}.__main__; print(gc.isenabled())"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_collector_is_back_on_once_serving(tmp_path: Path) -> None:
    code = tmp_path / "server.py"
    code.write_text(SERVER_CODE)
    port = free_port()
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT, f"http://127.0.0.1:{port}"],
        env=server_env(port, {"MCP_CODE_FILE": str(code)}),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The last line: the server logs its JSON events to stdout before it.
    paused, enabled, frozen = result.stdout.splitlines()[-1].split()
    assert (paused, enabled) == ("True", "True")
    # What start-up allocated is frozen out of the collector's reach (serve.py).
    assert int(frozen) > 50_000
