"""scripts/fleet.sh: `make up` / `make down` run the fleet as local processes."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.mcp_clients import connect
from harness.processes import free_port, lease


def _free_offset() -> int:
    """A port offset under which 8001-8003 are all free, and leased like free_port()'s.

    The ports stay below Linux's ephemeral range (32768 up), where an outgoing connection
    could take one between this check and fleet.sh binding it."""
    for _ in range(50):
        offset = random.randrange(11_000, 24_000, 10)
        if lease(8001 + offset, 8002 + offset, 8003 + offset):
            return offset
    raise AssertionError("no free port triple found")


def _fleet(repo_root: Path, env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo_root / "scripts" / "fleet.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _private_postgres(root: Path, env: dict[str, str], command: str) -> int:
    script = root / "scripts" / "postgres.sh"
    return subprocess.run(["bash", str(script), command], env=env, timeout=120).returncode


@pytest.fixture
def fleet_env(tmp_path: Path, postgres_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "DATABASE_URL"))}
    # fleet.sh must find the private PostgreSQL this session's tests run on.
    if "MCP_PG_PORT" in os.environ:
        env["MCP_PG_PORT"] = os.environ["MCP_PG_PORT"]
    env.update(
        FLEET_DIR=str(tmp_path / "fleet"),
        FLEET_SERVERS="todo postgres",
        FLEET_PORT_OFFSET=str(_free_offset()),
    )
    return env


async def test_up_serves_the_fleet_and_down_stops_it(
    repo_root: Path, fleet_env: dict[str, str]
) -> None:
    try:
        up = _fleet(repo_root, fleet_env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        config = json.loads(up.stdout[up.stdout.index("{") :])
        urls = {name: server["url"] for name, server in config["mcpServers"].items()}
        assert set(urls) == {"todo", "postgres"}
        for name, url in urls.items():
            assert f"{name}: ready at {url}" in up.stdout

        async with connect("fastmcp-modern", urls["todo"]) as todo:
            created = await todo.call("create_task", {"title": "from make up"})
            assert not created.is_error, created.text
        async with connect("fastmcp-modern", urls["postgres"]) as postgres:
            answer = await postgres.call("query", {"sql": "SELECT 40 + 2 AS answer"})
            assert answer.data["rows"] == [{"answer": 42}]

        again = _fleet(repo_root, fleet_env, "up")
        assert "todo: already running" in again.stdout

        status = _fleet(repo_root, fleet_env, "status")
        assert "todo: running" in status.stdout and "/ready 200" in status.stdout
        pids = [int(p.read_text()) for p in Path(fleet_env["FLEET_DIR"]).glob("*.pid")]
        assert len(pids) == 2
    finally:
        down = _fleet(repo_root, fleet_env, "down")
    assert down.returncode == 0, down.stderr
    assert "todo: stopped" in down.stdout and "postgres: stopped" in down.stdout
    # up found the session's PostgreSQL running, so down leaves it to the other tests.
    assert "private PostgreSQL" not in down.stdout
    assert _private_postgres(repo_root, fleet_env, "status") == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()
    assert not list(Path(fleet_env["FLEET_DIR"]).glob("*.pid"))
    assert (Path(fleet_env["FLEET_DIR"]) / "data" / "todo" / "todo.sqlite3").is_file()


def test_a_server_that_cannot_start_says_why(repo_root: Path, fleet_env: dict[str, str]) -> None:
    env = {**fleet_env, "FLEET_SERVERS": "todo"}
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 8001 + int(env["FLEET_PORT_OFFSET"])))
        squatter.listen()
        try:
            up = _fleet(repo_root, env, "up")
        finally:
            _fleet(repo_root, env, "down")
    assert up.returncode == 1
    assert "todo: exited at start" in up.stderr
    assert "address already in use" in up.stderr


def test_unknown_server_names_are_refused(repo_root: Path, fleet_env: dict[str, str]) -> None:
    up = _fleet(repo_root, {**fleet_env, "FLEET_SERVERS": "todo calendar"}, "up")
    assert up.returncode != 0
    assert "unknown server 'calendar' in FLEET_SERVERS" in up.stderr


@pytest.fixture
def checkout(repo_root: Path) -> Iterator[Path]:
    """A checkout of the two scripts, the server registry and the project's venv, so that
    postgres.sh keeps a private PostgreSQL (data dir and port) of its own there instead of the
    session's."""
    # Outside pytest's tmp dirs: those are private to root and the postgres user must write here.
    root = Path(tempfile.mkdtemp(prefix="mcp-fleet-"))
    root.chmod(0o755)
    (root / "scripts").mkdir()
    for name in ("fleet.sh", "postgres.sh", "lib.sh", "server_registry.py", "client_configs.py"):
        shutil.copy(repo_root / "scripts" / name, root / "scripts" / name)
    shutil.copy(repo_root / "pyproject.toml", root / "pyproject.toml")
    (root / ".venv").symlink_to(repo_root / ".venv")
    yield root
    _private_postgres(root, {**os.environ}, "stop")
    shutil.rmtree(root, ignore_errors=True)


async def test_without_postgresql_todo_runs_alone_and_the_others_say_why(
    checkout: Path, fleet_env: dict[str, str]
) -> None:
    env = {**fleet_env, "FLEET_SERVERS": "todo postgres memory"}
    # A port another program listens on: the private PostgreSQL really fails to start.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        env["MCP_PG_PORT"] = str(squatter.getsockname()[1])
        try:
            up = _fleet(checkout, env, "up")
            config = json.loads(up.stdout[up.stdout.index("{") :])
            assert set(config["mcpServers"]) == {"todo"}, up.stdout + up.stderr
            async with connect("fastmcp-modern", config["mcpServers"]["todo"]["url"]) as todo:
                assert "create_task" in todo.tool_names
        finally:
            down = _fleet(checkout, env, "down")
    assert up.returncode == 0, up.stdout + up.stderr
    for name in ("postgres", "memory"):
        said = [line for line in up.stderr.splitlines() if line.startswith(f"{name}:")]
        assert len(said) == 1, up.stderr
        assert said[0].startswith(f"{name}: not started: no PostgreSQL (scripts/postgres.sh start")
        assert "Address already in use" in said[0] and "set DATABASE_URL" in said[0]
        assert f"{name}: ready" not in up.stdout
    assert not (Path(env["FLEET_DIR"]) / "postgres.pid").exists()
    assert down.stdout.strip() == "todo: stopped", down.stdout + down.stderr


async def test_down_stops_the_private_postgresql_that_up_started(
    checkout: Path, fleet_env: dict[str, str]
) -> None:
    env = {**fleet_env, "FLEET_SERVERS": "postgres", "MCP_PG_PORT": str(free_port())}
    try:
        up = _fleet(checkout, env, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        config = json.loads(up.stdout[up.stdout.index("{") :])
        async with connect("fastmcp-modern", config["mcpServers"]["postgres"]["url"]) as pg:
            answer = await pg.call("query", {"sql": "SELECT current_user AS who"})
            assert answer.data["rows"] == [{"who": "mcp_reader"}]
    finally:
        down = _fleet(checkout, env, "down")
    assert down.returncode == 0, down.stderr
    assert "private PostgreSQL: stopped" in down.stdout
    assert _private_postgres(checkout, env, "status") != 0


def test_make_up_leaves_postgresql_to_the_fleet_script(repo_root: Path) -> None:
    # A 'postgres' prerequisite would fail 'make up' wherever PostgreSQL cannot start.
    plan = subprocess.run(
        ["make", "-n", "up"], cwd=repo_root, capture_output=True, text=True, timeout=60
    )
    assert plan.returncode == 0, plan.stderr
    assert "scripts/fleet.sh up" in plan.stdout
    assert "postgres.sh" not in plan.stdout
