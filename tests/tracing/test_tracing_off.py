"""Without OTEL_* tracing variables a server loads none of the `tracing` extra, even where the
extra is installed: the todo server on SQLite runs from start through a tool call to its exit,
and no OpenTelemetry SDK, exporter or instrumentation module, nor their dependencies, is in
`sys.modules` at the end."""

from __future__ import annotations

import json
import sys
from importlib.util import find_spec
from pathlib import Path

import httpx
from harness.jsonrpc import modern_request
from harness.processes import ServerProcess

# Prefixes of module names that only tracing loads.
TRACING_ONLY = (
    "opentelemetry.sdk",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation",
    "opentelemetry.semconv",
    "opentelemetry.proto",
    "mcp_runtime.tracing.",
    "wrapt",
    "grpc",
    "google.protobuf",
    "requests",
)

# Runs a server module as `python -m` would and writes the names of the loaded modules at exit.
RECORDER = """
import atexit, json, runpy, sys
out, module = sys.argv[1], sys.argv[2]
atexit.register(lambda: json.dump(sorted(sys.modules), open(out, "w")))
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def test_a_server_without_tracing_variables_loads_no_opentelemetry_sdk(tmp_path: Path) -> None:
    assert find_spec("opentelemetry.sdk") is not None, "the tracing extra is not installed"
    report = tmp_path / "modules.json"
    command = [sys.executable, "-c", RECORDER, str(report), "mcp_todo"]
    server = ServerProcess(command, {"MCP_DATA_DIR": str(tmp_path / "data")}, tmp_path / "log")
    for name in [name for name in server.env if name.startswith("OTEL_")]:
        del server.env[name]
    with server:
        server.wait_ready()
        headers, message = modern_request("tools/call", {"name": "list_tasks", "arguments": {}})
        answer = httpx.post(server.mcp_url, json=message, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        assert server.stop() == 0
    loaded = json.loads(report.read_text())
    assert "mcp_runtime.tracing" in loaded  # the gate, which reads only the environment
    assert [name for name in loaded if name.startswith(TRACING_ONLY)] == []
    assert '"trace_id"' not in server.log_text()
