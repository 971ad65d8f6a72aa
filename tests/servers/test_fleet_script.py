"""scripts/fleet.sh: `make up` / `make down` run the fleet as local processes."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
from pathlib import Path

import pytest
from mcp_clients import connect


def _free_offset() -> int:
    """A port offset under which 8001 and 8002 are both free."""
    for _ in range(50):
        offset = random.randrange(10_000, 50_000, 10)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", 8001 + offset))
                b.bind(("127.0.0.1", 8002 + offset))
            return offset
        except OSError:
            continue
    raise AssertionError("no free port pair found")


def _fleet(repo_root: Path, env: dict[str, str], command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo_root / "scripts" / "fleet.sh"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def fleet_env(tmp_path: Path, postgres_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "DATABASE_URL"))}
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
