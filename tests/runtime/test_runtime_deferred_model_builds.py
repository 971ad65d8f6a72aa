"""The SDK's wire models and FastMCP's component models are built on first use
(mcp_runtime.deferred_model_builds): those every server needs before it reports ready,
the rest never unless used, and a model built late validates as one built at import.

Each case runs in a fresh interpreter: the deferral applies only to models defined after
the runtime is imported, and this test process has imported the SDK long before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness.processes import ServerProcess
from harness.tool_calls import call_todo_every_way

# A wire model and a FastMCP model that nothing in a default server uses.
UNUSED = """
import mcp_types._v2026_07_28 as wire
from fastmcp.resources.types import FileResource
"""


def _run(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_models_no_server_needs_are_not_built_at_import() -> None:
    seen = _run(
        "import json, mcp_runtime\n"
        + UNUSED
        + "print(json.dumps({'wire': wire.CompleteRequest.__pydantic_complete__,"
        " 'fastmcp': FileResource.__pydantic_complete__}))"
    )
    assert seen == {"wire": False, "fastmcp": False}


def test_a_model_built_on_first_use_validates_as_one_built_at_import() -> None:
    check = (
        "import json, pydantic\n"
        + UNUSED
        + """
good = {"jsonrpc": "2.0", "id": 1, "method": "completion/complete", "params": {
    "ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": "v"},
    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
              "io.modelcontextprotocol/clientCapabilities": {}}}}
bad = {**good, "params": {**good["params"], "argument": {"name": "a"}}}
wire.CompleteRequest.model_validate(good)
try:
    wire.CompleteRequest.model_validate(bad)
except pydantic.ValidationError as error:
    problems = [[".".join(map(str, e["loc"])), e["type"]] for e in error.errors()]
print(json.dumps({"problems": problems, "built": wire.CompleteRequest.__pydantic_complete__}))
"""
    )
    deferred = _run("import mcp_runtime\n" + check)
    as_released = _run(check)
    assert deferred == as_released
    assert deferred["problems"] == [["params.argument.value", "missing"]]


def test_the_wire_models_of_the_methods_every_server_answers_are_built_on_request() -> None:
    seen = _run(
        """
import json, mcp_runtime
from mcp_runtime.deferred_model_builds import SERVED_METHODS, build_served_wire_models
from mcp_types.methods import CLIENT_NOTIFICATIONS, CLIENT_REQUESTS
surfaces = {**CLIENT_REQUESTS, **CLIENT_NOTIFICATIONS}
def built(served):
    return sorted({model.__pydantic_complete__ for (method, _), model in surfaces.items()
                   if (method in SERVED_METHODS) is served})
before = built(True)
count = build_served_wire_models()
print(json.dumps({"before": before, "count": count, "served": built(True),
                  "others": built(False), "again": build_served_wire_models()}))
"""
    )
    assert seen["count"] > 0
    assert seen == {**seen, "before": [False], "served": [True], "others": [False], "again": 0}


def test_on_another_mcp_types_release_the_models_build_as_released() -> None:
    seen = _run(
        """
import importlib.metadata, json
released = importlib.metadata.version
importlib.metadata.version = lambda name: "0.0.1" if name == "mcp-types" else released(name)
import mcp_runtime
from mcp_runtime.deferred_model_builds import build_served_wire_models
"""
        + UNUSED
        + "print(json.dumps({'wire': wire.CompleteRequest.__pydantic_complete__,"
        " 'fastmcp': FileResource.__pydantic_complete__, 'built': build_served_wire_models()}))"
    )
    assert seen == {"wire": True, "fastmcp": False, "built": 0}


# Runs a server module as `python -m` would and writes the names of the pydantic models
# built so far to the file given, with ".ready" appended on SIGUSR1, and as it is at exit.
RECORDER = """
import atexit, json, runpy, signal, sys
out, module = sys.argv[1], sys.argv[2]
def write(path):
    import pydantic
    built, unbuilt, classes = [], [], [pydantic.BaseModel]
    while classes:
        for model in classes.pop().__subclasses__():
            classes.append(model)
            name = f"{model.__module__}.{model.__qualname__}"
            (built if model.__dict__.get("__pydantic_complete__") else unbuilt).append(name)
    with open(path, "w") as file:
        json.dump({"built": sorted(set(built)), "unbuilt": sorted(set(unbuilt))}, file)
signal.signal(signal.SIGUSR1, lambda *_: write(out + ".ready"))
atexit.register(write, out)
sys.argv = [module]
runpy.run_module(module, run_name="__main__", alter_sys=True)
"""


def _snapshot(path: Path) -> dict[str, list[str]]:
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)
    time.sleep(0.1)
    return json.loads(path.read_text())


# With the fast path and through plain FastMCP: each validates with models of its own.
@pytest.mark.parametrize("fast_path", ["true", "false"], ids=["fast-path", "fastmcp"])
def test_no_call_waits_for_a_model_to_be_built(tmp_path: Path, fast_path: str) -> None:
    report = tmp_path / "models.json"
    command = [sys.executable, "-c", RECORDER, str(report), "mcp_todo"]
    env = {"MCP_DATA_DIR": str(tmp_path / "data"), "MCP_FAST_PATH": fast_path}
    server = ServerProcess(command, env, tmp_path / "log")
    with server:
        server.wait_ready()
        os.kill(server.pid, signal.SIGUSR1)
        at_ready = _snapshot(tmp_path / "models.json.ready")
        call_todo_every_way(server.mcp_url)
        assert server.stop() == 0
    at_exit = json.loads(report.read_text())
    assert set(at_exit["built"]) - set(at_ready["built"]) == set()
    assert len([name for name in at_ready["unbuilt"] if name.startswith("mcp_types._v")]) > 250


# Each server of the fleet, as its entry point imports it: the runtime must come first for
# the deferral to apply (to models defined after it), and a server importing FastMCP or the
# SDK first would silently build every model at start again.
@pytest.mark.parametrize(
    "entry_point",
    ["mcp_todo", "mcp_postgres", "mcp_memory", "mcp_bridge", "mcp_gateway", "mcp_runtime"],
)
def test_every_server_of_the_fleet_defers_the_models_it_does_not_use(entry_point: str) -> None:
    seen = _run(
        f"import json, importlib, sys\nimportlib.import_module('{entry_point}.__main__')\n"
        "import mcp_types._v2026_07_28 as wire\n"
        "import fastmcp.resources.types as resources\n"
        "print(json.dumps({'wire': wire.CompleteRequest.__pydantic_complete__,"
        " 'fastmcp': resources.FileResource.__pydantic_complete__}))"
    )
    assert seen == {"wire": False, "fastmcp": False}
