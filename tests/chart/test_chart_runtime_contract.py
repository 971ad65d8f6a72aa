"""The chart's rendered config runs the real runtime, and its helm test pod passes against it.

No cluster: the inline-code example's ConfigMaps are laid out on disk as the pod would see
them, `mcp-code-runner` serves them on 127.0.0.1 with the chart's environment, and the
helm test pod's own command (files/mcp-smoke.py) talks MCP to it over HTTP.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from harness.jsonrpc import INITIALIZE, MCP_HEADERS
from harness.processes import free_port
from helm_render import NAMESPACE, VALUES_DIR, render

GREETER = (VALUES_DIR / "greeter-code.yaml",)
START_TIMEOUT_SECONDS = 60
SERVICE_HOST = f"greeter-mcp.{NAMESPACE}.svc.cluster.local"


@dataclass
class Served:
    port: int
    pod_env: dict[str, str]
    smoke_script: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def start_greeter(tmp: Path, stateless: bool) -> Iterator[Served]:
    result = render(GREETER, set_json=(f"servers.greeter.stateless={json.dumps(stateless)}",))
    config = dict(result.get("ConfigMap", "greeter-mcp")["data"])
    (tmp / "etc").mkdir()
    (tmp / "etc" / "server-config.json").write_text(config.pop("server-config.json"))
    (tmp / "code").mkdir()
    for name, source in result.get("ConfigMap", "greeter-mcp-code")["data"].items():
        (tmp / "code" / name).write_text(source)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "LOG_LEVEL"))}
    # The chart's environment, with the paths and the listen address of this machine.
    env |= config | {
        "MCP_HOST": "127.0.0.1",
        "MCP_PORT": str(port),
        "MCP_SERVER_CONFIG": str(tmp / "etc" / "server-config.json"),
        "MCP_CODE_FILE": str(tmp / "code" / config["MCP_CODE_FILE"].rsplit("/", 1)[1]),
    }
    runner = Path(sys.executable).with_name("mcp-code-runner")
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen([str(runner)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            assert process.poll() is None, (tmp / "server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp / "server.log").read_text()
            time.sleep(0.1)
        (call,) = result.get("Pod", "greeter-mcp-test")["spec"]["containers"]
        pod_env = {item["name"]: item["value"] for item in call["env"] if "value" in item}
        yield Served(port=port, pod_env=pod_env, smoke_script=call["args"][0])
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module", params=[True, False], ids=["stateless", "stateful"])
def greeter(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    yield from start_greeter(tmp_path_factory.mktemp("greeter"), stateless=request.param)


def run_smoke(served: Served, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | served.pod_env | {"MCP_URL": served.url} | overrides
    return subprocess.run(
        [sys.executable, "-c", served.smoke_script],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_helm_test_pod_makes_a_real_mcp_call(greeter: Served):
    result = run_smoke(greeter)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok: greeter at {greeter.url}: 1 tools, called greet"


def test_helm_test_pod_fails_naming_the_missing_tool(greeter: Served):
    result = run_smoke(greeter, MCP_TEST_TOOL="shout", MCP_TEST_TIMEOUT_SECONDS="0")
    assert result.returncode == 1
    assert "FAILED: tools/list: tool 'shout' not offered (tools: ['greet'])" in result.stderr


def test_helm_test_pod_never_guesses_an_unannotated_tool(greeter: Served):
    # `greet` has no annotations, so by MCP's defaults it may be destructive.
    result = run_smoke(greeter, MCP_TEST_TOOL="", MCP_TEST_TIMEOUT_SECONDS="0")
    assert result.returncode == 1
    assert (
        "FAILED: tools/list: no read-only or non-destructive tool without required arguments; "
        "set test.tool and test.arguments (tools: ['greet'])"
    ) in result.stderr


def test_service_dns_names_pass_the_dns_rebinding_guard(greeter: Served):
    def status(host: str) -> int:
        return httpx.post(
            greeter.url, json=INITIALIZE, headers=MCP_HEADERS | {"Host": host}
        ).status_code

    assert status(f"{SERVICE_HOST}:8000") == 200
    assert status(f"greeter-mcp.{NAMESPACE}") == 200
    assert status("greeter-mcp") == 200
    assert status("other-mcp.mcp.svc.cluster.local") == 421
