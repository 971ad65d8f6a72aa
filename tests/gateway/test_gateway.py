"""The gateway as a real process in front of real upstreams: names, outages, filters, auth."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import fastmcp
import httpx
import pytest
from fastmcp.exceptions import ToolError
from gateway_env import UPSTREAM_TOKEN, StartGateway, upstreams_env
from harness import processes, runtime, servers
from harness.processes import ServerProcess, free_port

pytestmark = pytest.mark.timeout(180)


def mode(legacy: bool) -> str:
    return "legacy" if legacy else "auto"


@pytest.mark.parametrize("legacy", [True, False], ids=["2025-11-25", "2026-07-28"])
async def test_tools_of_every_upstream_are_namespaced_and_callable(
    start_gateway: StartGateway, todo: ServerProcess, sample: ServerProcess, legacy: bool
) -> None:
    gateway = start_gateway({"todo": {"url": todo.mcp_url}, "sample": {"url": sample.mcp_url}})
    async with fastmcp.Client(gateway.mcp_url, mode=mode(legacy)) as client:
        names = {tool.name for tool in await client.list_tools()}
        created = await client.call_tool("todo_create_task", {"title": "via the gateway"})
        echoed = await client.call_tool("sample_echo", {"text": "hi"})
        version = await client.call_tool("sample_protocol_version", {})
    assert {"todo_create_task", "todo_list_tasks", "sample_echo"} <= names
    assert all(name.startswith(("todo_", "sample_")) for name in names)
    assert "via the gateway" in str(created.structured_content or created.content)
    assert echoed.data == "hi"
    # A stateless gateway calls an upstream that speaks 2026-07-28 in it, whichever
    # generation its caller chose: the caller gets the same result for one POST.
    assert version.data == "2026-07-28"


async def test_a_stateful_gateway_calls_in_the_callers_generation(
    start_gateway: StartGateway, sample: ServerProcess
) -> None:
    # Its callers' sessions could carry what the upstream sends during a call.
    gateway = start_gateway({"sample": {"url": sample.mcp_url}}, env={"MCP_STATELESS": "false"})
    for legacy in (True, False):
        async with fastmcp.Client(gateway.mcp_url, mode=mode(legacy)) as client:
            version = await client.call_tool("sample_protocol_version", {})
        assert (version.data < "2026") is legacy


async def test_a_down_upstream_fails_only_its_own_tools(
    start_gateway: StartGateway, todo: ServerProcess, tmp_path
) -> None:
    doomed = runtime.launch(tmp_path, {}, None)
    try:
        gateway = start_gateway({"todo": {"url": todo.mcp_url}, "sample": {"url": doomed.mcp_url}})
        async with fastmcp.Client(gateway.mcp_url) as client:
            assert "sample_echo" in {tool.name for tool in await client.list_tools()}
    finally:
        doomed.stop()
    async with fastmcp.Client(gateway.mcp_url) as client:
        with pytest.raises(ToolError, match="upstream 'sample' is unavailable: "):
            await client.call_tool("sample_echo", {"text": "hi"})
        listed = await client.call_tool("todo_list_tasks", {})
        assert not listed.is_error
    # A probe of todo that a loaded machine lets time out notes todo too, until the next one.
    for _ in range(10):
        ready = httpx.get(f"{gateway.base_url}/ready", timeout=5)
        if "todo" not in str(ready.json()):
            break
        time.sleep(0.5)
    assert ready.status_code == 200
    assert "sample" in " ".join(ready.json()["notes"]) and "todo" not in str(ready.json())
    assert gateway.metric('mcp_gateway_upstream_up{server="sample"}') == 0
    assert gateway.metric('mcp_gateway_upstream_up{server="todo"}') == 1


async def test_ready_fails_when_no_upstream_answers(start_gateway: StartGateway, tmp_path) -> None:
    gateway = start_gateway({"gone": {"url": "http://127.0.0.1:9/mcp"}}, ready=False)
    gateway.wait_ready(expected=503)
    assert gateway.ready_status() == 503


async def test_an_upstream_that_starts_after_the_gateway_makes_it_ready_without_a_client(
    start_gateway: StartGateway, tmp_path
) -> None:
    # Pods of one release start together: the gateway may come up before every upstream.
    port = free_port()
    gateway = start_gateway({"late": {"url": f"http://127.0.0.1:{port}/mcp"}}, ready=False)
    gateway.wait_ready(expected=503)
    late = processes.launch(
        [sys.executable, str(runtime.SAMPLE_SERVER)], {}, tmp_path / "late.log", port=port
    )
    try:
        # Only the kubelet's probes ask: no client ever lists the tools.
        gateway.wait_ready(expected=200)
        assert gateway.metric('mcp_tool_calls_total{outcome="ok",tool="late_echo"}') == 0
    finally:
        late.stop()


async def test_include_and_exclude_pick_an_upstreams_tools(
    start_gateway: StartGateway, todo: ServerProcess, sample: ServerProcess
) -> None:
    gateway = start_gateway(
        {
            "todo": {"url": todo.mcp_url, "include": ["list_tasks", "create_task"]},
            "sample": {"url": sample.mcp_url, "exclude": ["echo"]},
        }
    )
    async with fastmcp.Client(gateway.mcp_url) as client:
        names = {tool.name for tool in await client.list_tools()}
        with pytest.raises(ToolError, match="sample_echo"):
            await client.call_tool("sample_echo", {"text": "hi"})
    assert {name for name in names if name.startswith("todo_")} == {
        "todo_list_tasks",
        "todo_create_task",
    }
    assert "sample_echo" not in names and "sample_slow_echo" in names


@pytest.mark.parametrize("legacy", [True, False], ids=["2025-11-25", "2026-07-28"])
async def test_the_callers_authorization_reaches_the_upstream(
    start_gateway: StartGateway, todo: ServerProcess, tmp_path, legacy: bool
) -> None:
    guarded = runtime.launch(tmp_path, {"MCP_AUTH_TOKEN": UPSTREAM_TOKEN}, None)
    try:
        gateway = start_gateway(
            {"todo": {"url": todo.mcp_url}, "guarded": {"url": guarded.mcp_url}}
        )
        async with fastmcp.Client(gateway.mcp_url, auth=UPSTREAM_TOKEN, mode=mode(legacy)) as c:
            assert (await c.call_tool("guarded_echo", {"text": "with token"})).data == "with token"
        async with fastmcp.Client(gateway.mcp_url, mode=mode(legacy)) as client:
            # The gateway has no credentials of its own: without the caller's, nothing passes.
            with pytest.raises(ToolError, match="upstream 'guarded' refused the call: "):
                await client.call_tool("guarded_echo", {"text": "without"})
            async with fastmcp.Client(
                gateway.mcp_url, auth="wrong-token", mode=mode(legacy)
            ) as wrong:
                with pytest.raises(ToolError, match="upstream 'guarded' refused the call: "):
                    await wrong.call_tool("guarded_echo", {"text": "wrong"})
    finally:
        guarded.stop()


@pytest.mark.parametrize("legacy", [True, False], ids=["2025-11-25", "2026-07-28"])
async def test_an_upstream_down_lists_to_each_caller_only_what_it_listed_for_it(
    start_gateway: StartGateway, todo: ServerProcess, tmp_path, legacy: bool
) -> None:
    """The tools an upstream listed last stay listed while it is down, but only to callers
    with the Authorization it listed them for: a caller it refused must not see them then."""
    guarded = runtime.launch(tmp_path, {"MCP_AUTH_TOKEN": UPSTREAM_TOKEN}, None)
    try:
        gateway = start_gateway(
            {"todo": {"url": todo.mcp_url}, "guarded": {"url": guarded.mcp_url}}
        )
        async with fastmcp.Client(gateway.mcp_url, auth=UPSTREAM_TOKEN, mode=mode(legacy)) as c:
            assert "guarded_echo" in {tool.name for tool in await c.list_tools()}
    finally:
        guarded.stop()
    async with fastmcp.Client(gateway.mcp_url, mode=mode(legacy)) as client:
        names = {tool.name for tool in await client.list_tools()}
    assert "todo_create_task" in names
    assert not any(name.startswith("guarded_") for name in names), names
    async with fastmcp.Client(gateway.mcp_url, auth="wrong-token", mode=mode(legacy)) as wrong:
        assert not any(tool.name.startswith("guarded_") for tool in await wrong.list_tools())
    async with fastmcp.Client(gateway.mcp_url, auth=UPSTREAM_TOKEN, mode=mode(legacy)) as c:
        assert "guarded_echo" in {tool.name for tool in await c.list_tools()}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "MCP_GATEWAY_SERVERS: Field required"),
        ("not json", "MCP_GATEWAY_SERVERS: not valid JSON"),
        ("{}", "MCP_GATEWAY_SERVERS: must be a non-empty JSON object"),
        ('{"todo": {"url": "x"}}', "MCP_GATEWAY_SERVERS: todo.url: "),
        ('{"todo": {"url": "http://a/mcp", "extra": 1}}', "todo.extra: Extra inputs"),
        (
            '{"todo": {"url": "http://a/mcp", "include": ["a", "b"], "exclude": ["b"]}}',
            "MCP_GATEWAY_SERVERS: todo: include and exclude both name b",
        ),
        (
            '{"todo": {"url": "http://a/mcp"}, "todo": {"url": "http://b/mcp"}}',
            "MCP_GATEWAY_SERVERS: todo: given twice; upstream names must be unique",
        ),
        ('{"my_todo": {"url": "http://a/mcp"}}', "MCP_GATEWAY_SERVERS: my_todo: an upstream name"),
        (
            '{"todo": {"url": "http://a/mcp", "timeout_seconds": 0}}',
            "MCP_GATEWAY_SERVERS: todo.timeout_seconds: Input should be greater than 0",
        ),
        (
            '{"todo": {"url": "http://a/mcp", "connect_retries": 11}}',
            "MCP_GATEWAY_SERVERS: todo.connect_retries: Input should be less than or equal to 10",
        ),
        (
            '{"todo": {"url": "http://a/mcp", "max_concurrent_calls": -1}}',
            "MCP_GATEWAY_SERVERS: todo.max_concurrent_calls: Input should be greater than or"
            " equal to 0",
        ),
        (
            '{"todo": {"url": "http://a/mcp", "circuit_breaker": {"reset": 5}}}',
            "MCP_GATEWAY_SERVERS: todo.circuit_breaker.reset: Extra inputs are not permitted",
        ),
    ],
)
def test_bad_upstream_lists_exit_2_naming_the_key(value: str | None, message: str) -> None:
    server = ServerProcess([str(servers.VENV_BIN / "mcp-gateway")], upstreams_env({}))
    if value is None:
        del server.env["MCP_GATEWAY_SERVERS"]
    else:
        server.env["MCP_GATEWAY_SERVERS"] = value
    done = subprocess.run(
        server.argv, env=server.env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_more_than_one_worker_exits_2_naming_why() -> None:
    # Each upstream's circuit breaker and last listing live in the gateway's one process.
    upstreams = upstreams_env({"todo": {"url": "http://todo-mcp:8001/mcp"}})
    server = ServerProcess([str(servers.VENV_BIN / "mcp-gateway")], upstreams)
    env = {**server.env, "MCP_WORKERS": "2", "MCP_STATELESS": "true"}
    done = subprocess.run(server.argv, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "MCP_WORKERS=2: mcp-gateway serves from one process (each upstream's circuit breaker"
        " and last listing live in it); set MCP_WORKERS=1 and add replicas instead\n"
    )


@pytest.mark.parametrize("legacy", [True, False], ids=["2025-11-25", "2026-07-28"])
async def test_a_gateway_that_picks_its_tools_before_serving_relays_calls(
    start_gateway: StartGateway, sample: ServerProcess, tmp_path: Path, legacy: bool
) -> None:
    # The pick lists the upstreams (and asks each which versions it speaks) in an event loop
    # of its own: what it opened there must not be what the serving loop relays calls on.
    config = tmp_path / "server-config.json"
    config.write_text(json.dumps({"tools": ["sample_echo", "sample_protocol_version"]}))
    gateway = start_gateway(
        {"sample": {"url": sample.mcp_url}}, env={"MCP_SERVER_CONFIG": str(config)}
    )
    async with fastmcp.Client(gateway.mcp_url, mode=mode(legacy)) as client:
        assert {tool.name for tool in await client.list_tools()} == {
            "sample_echo",
            "sample_protocol_version",
        }
        assert (await client.call_tool("sample_echo", {"text": "picked"})).data == "picked"
        assert (await client.call_tool("sample_protocol_version", {})).data == "2026-07-28"
    assert "Traceback" not in gateway.log_text()
