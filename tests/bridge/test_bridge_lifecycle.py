"""The child's life cycle behind the bridge: crashes, restarts, crash loops, the drain, stray
processes, and children that misbehave on stdout or never answer."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import fastmcp
import httpx
import pytest
from harness.bridge import (
    BRIDGE,
    StartBridge,
    fake_server,
    process_exists,
    process_group_exists,
    start_bridge,
)
from harness.processes import free_port, server_env

# Restarts at once in these tests, which crash the child on purpose.
QUICK_RESTARTS = {"MCP_BRIDGE_RESTART_BACKOFF_SECONDS": "0.05"}


async def call(url: str, tool: str, arguments: dict[str, object]) -> str:
    async with fastmcp.Client(url) as client:
        result = await client.call_tool(tool, arguments)
        return result.content[0].text  # type: ignore[union-attr]


async def call_error(url: str, tool: str, arguments: dict[str, object]) -> str:
    """The tool error a call ends with (fails if it succeeds)."""
    async with fastmcp.Client(url) as client:
        with pytest.raises(fastmcp.exceptions.ToolError) as error:
            await client.call_tool(tool, arguments)
    return str(error.value)


async def wait_for_file(path: Path) -> None:
    while not path.exists():
        await asyncio.sleep(0.02)


async def test_a_crash_fails_the_calls_in_flight_and_the_child_restarts(
    bridge: StartBridge, tmp_path: Path
) -> None:
    hold = tmp_path / "hold-start"
    running = bridge(fake_server("--hold-start", str(hold)), QUICK_RESTARTS)
    gate = tmp_path / "gate"
    in_flight = asyncio.create_task(call_error(running.mcp_url, "gated", {"gate": str(gate)}))
    await wait_for_file(gate.with_name("gate.entered"))
    # The restarted child will not answer initialize until the test lets it.
    hold.touch()

    crash_error = await call_error(running.mcp_url, "crash", {"code": 3})

    expected = "the stdio server exited (code 3) while this call was running; it is restarting"
    assert crash_error == expected
    assert await in_flight == expected
    status, body = running.ready()
    assert status == 503
    assert body["reason"].startswith("stdio_server: StdioServerNotReady: the stdio server")
    exited = running.wait_for_event("bridge_child_exited")
    assert (exited["exit"], exited["returncode"]) == ("code 3", 3)
    # A call while the child is down is turned away with the reason, not queued.
    assert "the stdio server" in await call_error(running.mcp_url, "echo", {"text": "x"})

    hold.unlink()
    running.wait_ready()
    assert await call(running.mcp_url, "echo", {"text": "back"}) == "back"
    assert len(running.child_pids()) == 2
    assert running.metric("mcp_bridge_child_crashes_total") == 1
    assert running.metric('mcp_tool_calls_total{outcome="error",tool="gated"}') == 1


def test_a_crash_loop_ends_the_bridge_with_exit_code_1(bridge: StartBridge) -> None:
    running = bridge(
        fake_server("--stderr", "fatal: config missing", "--exit-at-start", "7"),
        {**QUICK_RESTARTS, "MCP_BRIDGE_CRASH_LOOP_RESTARTS": "3"},
        ready=False,
    )
    assert running.wait_exit() == 1
    loop = running.wait_for_event("bridge_crash_loop")
    assert loop["level"] == "error"
    assert loop["crashes"] == 3
    assert loop["last_reason"] == "the stdio server exited (code 7) before answering initialize"
    assert loop["message"] == (
        "the stdio server crashed 3 times within 60 s (MCP_BRIDGE_CRASH_LOOP_RESTARTS=3,"
        " MCP_BRIDGE_CRASH_LOOP_WINDOW_SECONDS=60); the bridge is exiting"
    )
    assert len(running.child_pids()) == 3
    # The child's stderr became log events of the bridge.
    stderr = running.events("bridge_child_stderr")
    assert [event["line"] for event in stderr] == ["fatal: config missing"] * 3
    assert {event["pid"] for event in stderr} == set(running.child_pids())
    for pid in running.child_pids():
        assert not process_group_exists(pid)


async def test_sigterm_drains_a_call_in_flight_then_stops_the_child(
    bridge: StartBridge, tmp_path: Path
) -> None:
    running = bridge(fake_server())
    gate = tmp_path / "gate"
    in_flight = asyncio.create_task(call(running.mcp_url, "gated", {"gate": str(gate)}))
    await wait_for_file(gate.with_name("gate.entered"))
    (child,) = running.child_pids()

    running.terminate()
    running.wait_for_event("drain_started")
    assert running.ready()[0] == 503
    # The child keeps serving during the drain: it is in a session of its own, so the
    # SIGTERM meant for the bridge did not reach it.
    assert process_exists(child)
    gate.touch()

    assert await in_flight == "gate open"
    assert running.wait_exit() == 0
    assert not process_group_exists(child)
    stopped = running.wait_for_event("bridge_child_exited")
    assert stopped["stopped_by_bridge"] is True


async def test_a_caller_that_gives_up_cancels_its_call_at_the_child(
    bridge: StartBridge, tmp_path: Path
) -> None:
    """A 2026-07-28 caller cancels by closing its POST; the bridge then tells the stdio
    server `notifications/cancelled`, the stdio way to say it."""
    running = bridge(fake_server())
    gate = tmp_path / "gate"
    async with fastmcp.Client(running.mcp_url) as client:
        in_flight = asyncio.create_task(client.call_tool("gated", {"gate": str(gate)}))
        await wait_for_file(gate.with_name("gate.entered"))
        in_flight.cancel()
        with pytest.raises(asyncio.CancelledError):
            await in_flight
        await asyncio.wait_for(wait_for_file(gate.with_name("gate.cancelled")), 5)
    assert running.metric('mcp_tool_calls_total{outcome="cancelled",tool="gated"}') == 1
    assert running.metric("mcp_tool_calls_in_flight") == 0


async def test_sigterm_leaves_no_process_of_the_child_group_and_no_zombie(
    bridge: StartBridge,
) -> None:
    running = bridge(fake_server("--fork-grandchild"))
    pids = json.loads(await call(running.mcp_url, "pids", {}))
    assert pids["pgid"] == pids["pid"]
    assert process_exists(pids["grandchild"])

    assert running.stop() == 0

    assert not process_group_exists(pids["pgid"])
    assert not process_exists(pids["pid"])
    assert not process_exists(pids["grandchild"])


async def test_a_crashed_child_leaves_no_grandchild_behind(
    bridge: StartBridge,
) -> None:
    running = bridge(fake_server("--fork-grandchild"), QUICK_RESTARTS)
    first = json.loads(await call(running.mcp_url, "pids", {}))
    # The grandchild holds the child's stdout open: the crash is still noticed and told.
    assert await call_error(running.mcp_url, "crash", {"code": 1}) == (
        "the stdio server exited (code 1) while this call was running; it is restarting"
    )
    running.wait_for_event("bridge_child_ready", count=2)

    assert not process_group_exists(first["pgid"])
    assert not process_exists(first["grandchild"])
    assert json.loads(await call(running.mcp_url, "pids", {}))["pid"] != first["pid"]


async def test_non_json_lines_on_stdout_are_logged_and_skipped(bridge: StartBridge) -> None:
    running = bridge(fake_server("--garbage"))
    assert await call(running.mcp_url, "echo", {"text": "still works"}) == "still works"
    skipped = running.wait_for_event("bridge_child_stdout_not_jsonrpc")
    assert skipped["level"] == "warning"
    assert skipped["line"] in ("Starting fake server...", "this line is not JSON-RPC")
    assert running.events("bridge_child_exited") == []


async def test_log_notifications_of_the_child_become_log_events(bridge: StartBridge) -> None:
    running = bridge(fake_server())
    assert await call(running.mcp_url, "log", {"level": "critical"}) == "logged"
    event = running.wait_for_event("bridge_child_log")
    assert (event["level"], event["child_level"], event["child_logger"]) == (
        "error",
        "critical",
        "fake",
    )
    assert event["data"] == "disk almost full"


async def test_a_huge_answer_is_a_tool_error_and_the_bridge_stays_up(
    bridge: StartBridge,
) -> None:
    running = bridge(fake_server())
    error = await call_error(running.mcp_url, "huge", {"megabytes": 50})
    assert error.startswith("the stdio server's answer was ")
    assert error.endswith(" bytes, over MCP_BRIDGE_MAX_MESSAGE_BYTES=16777216; it was dropped")
    assert int(error.split()[5]) > 50 * 1024 * 1024
    dropped = running.wait_for_event("bridge_child_message_too_large")
    assert dropped["method"] == "tools/call"

    assert httpx.get(f"{running.base_url}/health").status_code == 200
    assert running.ready()[0] == 200
    assert await call(running.mcp_url, "echo", {"text": "after"}) == "after"
    assert len(running.child_pids()) == 1


def test_starts_that_time_out_one_after_another_end_the_bridge(bridge: StartBridge) -> None:
    """Each start takes its time-out, longer than the window allows for a crash loop by
    count: the failed starts in a row end the bridge instead of it staying unready forever."""
    running = bridge(
        fake_server("--never-initialize"),
        {
            **QUICK_RESTARTS,
            "MCP_BRIDGE_STARTUP_TIMEOUT_SECONDS": "1",
            "MCP_BRIDGE_CRASH_LOOP_WINDOW_SECONDS": "1",
            "MCP_BRIDGE_CRASH_LOOP_RESTARTS": "3",
        },
        ready=False,
    )
    assert running.wait_exit() == 1
    loop = running.wait_for_event("bridge_crash_loop")
    assert loop["failed_starts_in_a_row"] == 3
    assert loop["message"] == (
        "the stdio server failed to start 3 times in a row (MCP_BRIDGE_CRASH_LOOP_RESTARTS=3);"
        " the bridge is exiting"
    )
    assert len(running.child_pids()) == 3


async def test_a_child_that_never_answers_initialize_keeps_ready_false_with_the_reason(
    bridge: StartBridge,
) -> None:
    running = bridge(
        fake_server("--never-initialize"),
        {"MCP_BRIDGE_STARTUP_TIMEOUT_SECONDS": "1", "MCP_BRIDGE_CRASH_LOOP_RESTARTS": "1000"},
        ready=False,
    )
    reason = running.wait_for_ready_reason("did not answer initialize")
    assert reason.startswith(
        "stdio_server: StdioServerNotReady: the stdio server did not answer initialize within"
        " MCP_BRIDGE_STARTUP_TIMEOUT_SECONDS=1 s; restarting it in "
    )
    assert httpx.get(f"{running.base_url}/health").status_code == 200
    failed = running.wait_for_event("bridge_child_start_failed")
    assert failed["reason"] == (
        "the stdio server did not answer initialize within MCP_BRIDGE_STARTUP_TIMEOUT_SECONDS=1 s"
    )
    # The child that did not answer was stopped, not left running next to its successor.
    running.wait_for_event("bridge_child_started", count=2)
    assert not process_group_exists(running.child_pids()[0])


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (
            ["--", "/no/such/dir/mcp-server"],
            {},
            "mcp-bridge -- COMMAND: cannot run '/no/such/dir/mcp-server': no such file",
        ),
        (
            [],
            {"MCP_BRIDGE_COMMAND": '["no-such-mcp-server", "--flag"]'},
            "MCP_BRIDGE_COMMAND: cannot run 'no-such-mcp-server': no such executable on PATH",
        ),
        (
            [],
            {"MCP_BRIDGE_COMMAND": "mcp-server-time --local-timezone UTC"},
            "MCP_BRIDGE_COMMAND: must be a JSON list of strings, e.g."
            ' ["mcp-server-time", "--local-timezone", "UTC"]',
        ),
        ([], {}, "MCP_BRIDGE_COMMAND: not set; name the stdio server to run as a JSON list"),
        (
            ["--", "SCRIPT"],
            {},
            "mcp-bridge -- COMMAND: cannot run 'SCRIPT': its interpreter"
            " '/no/such/venv/bin/python3' (the #! line) does not exist or is not executable",
        ),
    ],
    ids=["missing-file", "not-on-path", "not-json", "unset", "interpreter-missing"],
)
def test_a_bad_command_stops_the_start_with_exit_code_2(
    argv: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    # A console script copied out of the virtual environment its #! line names.
    script = tmp_path / "mcp-server"
    script.write_text("#!/no/such/venv/bin/python3\nprint('never')\n")
    script.chmod(0o755)
    argv = [str(script) if arg == "SCRIPT" else arg for arg in argv]
    message = message.replace("SCRIPT", str(script))
    result = subprocess.run(
        [*BRIDGE, *argv],
        env=server_env(free_port(), env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result
    assert message in result.stderr


async def test_auth_and_the_host_guard_cover_the_bridge_and_the_token_stays_out_of_the_child(
    bridge: StartBridge,
) -> None:
    running = bridge(fake_server(), {"MCP_AUTH_TOKEN": "s3cret-token"})
    async with httpx.AsyncClient() as http:
        anonymous = await http.post(running.mcp_url, json={})
        assert anonymous.status_code == 401
        rebinding = await http.post(
            running.mcp_url,
            json={},
            headers={"Host": "evil.example", "Authorization": "Bearer s3cret-token"},
        )
        assert rebinding.status_code == 421
    async with fastmcp.Client(running.mcp_url, auth="s3cret-token") as client:
        result = await client.call_tool("env_names", {})
    names = json.loads(result.content[0].text)  # type: ignore[union-attr]
    assert "MCP_AUTH_TOKEN" not in names
    assert "MCP_PORT" not in names


async def test_a_call_the_child_never_answers_times_out_with_a_tool_error(
    bridge: StartBridge, tmp_path: Path
) -> None:
    running = bridge(fake_server(), {"MCP_BRIDGE_REQUEST_TIMEOUT_SECONDS": "1"})
    error = await call_error(running.mcp_url, "gated", {"gate": str(tmp_path / "never")})
    assert error == "the stdio server did not answer within MCP_BRIDGE_REQUEST_TIMEOUT_SECONDS=1 s"
    assert running.ready()[0] == 200
    assert await call(running.mcp_url, "echo", {"text": "next"}) == "next"


async def test_tools_the_child_adds_later_are_listed_counted_and_callable(
    bridge: StartBridge,
) -> None:
    running = bridge(fake_server("--late-tool"))
    running.wait_for_event("bridge_tools_changed")
    async with fastmcp.Client(running.mcp_url) as client:
        assert "late" in {tool.name for tool in await client.list_tools()}
        assert (await client.call_tool("late", {})).content[0].text == "late"  # type: ignore[union-attr]
    assert running.metric('mcp_tool_calls_total{outcome="ok",tool="late"}') == 1


async def test_the_config_tools_list_selects_the_child_tools(
    bridge: StartBridge, tmp_path: Path
) -> None:
    config = tmp_path / "server-config.json"
    config.write_text(json.dumps({"tools": ["echo"]}))
    running = bridge(fake_server(), {"MCP_SERVER_CONFIG": str(config)})
    async with fastmcp.Client(running.mcp_url) as client:
        assert [tool.name for tool in await client.list_tools()] == ["echo"]
    with pytest.raises(AssertionError):
        running.metric('mcp_tool_calls_total{outcome="ok",tool="crash"}')


def test_an_unknown_tool_in_the_config_ends_the_bridge_with_exit_code_2(tmp_path: Path) -> None:
    config = tmp_path / "server-config.json"
    config.write_text(json.dumps({"tools": ["echo", "no_such_tool"]}))
    # Not through the `bridge` fixture, which waits for /health: the bridge may be gone
    # before a first probe.
    running = start_bridge(tmp_path, fake_server(), {"MCP_SERVER_CONFIG": str(config)})
    try:
        assert running.wait_exit() == 2
    finally:
        running.stop()
    error = running.wait_for_event("bridge_settings_error")
    assert error["error"].startswith(
        "MCP_SERVER_CONFIG: tools: unknown tool no_such_tool; valid tools: crash, echo,"
    )
