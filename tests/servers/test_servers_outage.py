"""Database outages: clear tool errors, /ready 503, and recovery without a restart.

Each test stops and starts a PostgreSQL of its own, so the shared one is never disturbed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from harness.mcp_clients import connect
from harness.processes import ServerProcess
from harness.servers import launch
from pg_admin import psql, with_database
from private_postgres import PrivatePostgres

UNAVAILABLE = "database unavailable, try again later"

# A role whose password is distinctive enough that finding it in a log means it leaked.
PROBE_ROLE = "outage_probe"
PROBE_PASSWORD = "S3cret-outage-7f3a"
WRONG_PASSWORD = "Wr0ng-outage-2c9d"


def _assert_no_password(*texts: str) -> None:
    for text in texts:
        for password in (PROBE_PASSWORD, WRONG_PASSWORD):
            assert password not in text, text[-4000:]


def _ready_text(server: ServerProcess) -> str:
    return httpx.get(f"{server.base_url}/ready", timeout=10).text


def _ready_reason(server: ServerProcess) -> str:
    response = httpx.get(f"{server.base_url}/ready", timeout=10)
    assert response.status_code == 503, response.text
    _assert_no_password(response.text)
    return response.json()["reason"]


@pytest.fixture
def probe_url(private_postgres: PrivatePostgres) -> str:
    """URL of a role that must give its password, in a database it owns."""
    psql(private_postgres.url, f"CREATE ROLE {PROBE_ROLE} LOGIN PASSWORD '{PROBE_PASSWORD}'")
    # The recipe mcp-postgres requires: no caller may signal another's backend. The new
    # database copies template1's function privileges.
    psql(
        with_database(private_postgres.url, "template1"),
        "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_cancel_backend(integer),"
        " pg_catalog.pg_terminate_backend(integer, bigint) FROM PUBLIC",
    )
    psql(private_postgres.url, f"CREATE DATABASE outage OWNER {PROBE_ROLE}")
    # The cluster trusts every login; this role alone has to prove its password. The restart
    # makes the rule apply before the test connects (a reload is asynchronous).
    hba = private_postgres.data / "pg_hba.conf"
    hba.write_text(f"host all {PROBE_ROLE} 127.0.0.1/32 scram-sha-256\n{hba.read_text()}")
    private_postgres.stop()
    private_postgres.start()
    return f"postgresql://{PROBE_ROLE}:{PROBE_PASSWORD}@127.0.0.1:{private_postgres.port}/outage"


async def test_todo_reports_an_outage_and_recovers(
    private_postgres: PrivatePostgres, probe_url: str, tmp_path: Path
) -> None:
    server = launch("mcp-todo", tmp_path, {"DATABASE_URL": probe_url})
    try:
        server.wait_ready()
        _assert_no_password(_ready_text(server), server.log_text())
        async with connect("fastmcp-modern", server.mcp_url) as client:
            kept = await client.call("create_task", {"title": "survives the outage"})
            assert not kept.is_error, kept.text

            private_postgres.stop()
            failed = await client.call("list_tasks", {})
            assert failed.is_error and failed.text.startswith(UNAVAILABLE), failed.text
            assert _ready_reason(server).startswith("database_reachable: StoreUnavailable")
            rest = httpx.get(f"{server.base_url}/tasks", timeout=10)
            assert rest.status_code == 503 and rest.json()["error"].startswith(UNAVAILABLE)
            _assert_no_password(failed.text, rest.text, server.log_text())

            private_postgres.start()
            server.wait_ready(200, timeout=30)
            back = await client.call("get_task", {"task_id": kept.data["id"]})
            assert back.data["title"] == "survives the outage"
            _assert_no_password(_ready_text(server))
        assert "password" not in server.log_text().lower()
    finally:
        server.stop()
    _assert_no_password(server.log_text())


def test_todo_starts_without_its_database_and_becomes_ready_when_it_appears(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    private_postgres.stop()
    server = launch("mcp-todo", tmp_path, {"DATABASE_URL": private_postgres.url})
    try:
        assert "database_reachable" in _ready_reason(server)
        private_postgres.start()
        server.wait_ready(200, timeout=30)
        created = httpx.post(f"{server.base_url}/tasks", json={"title": "schema made late"})
        assert created.status_code == 201, created.text
    finally:
        server.stop()


async def test_postgres_server_reports_an_outage_and_recovers(
    private_postgres: PrivatePostgres, probe_url: str, tmp_path: Path
) -> None:
    server = launch("mcp-postgres", tmp_path, {"DATABASE_URL": probe_url})
    try:
        server.wait_ready()
        _assert_no_password(_ready_text(server), server.log_text())
        async with connect("mcp-legacy", server.mcp_url) as client:
            assert (await client.call("query", {"sql": "SELECT 1 AS one"})).data["rows"] == [
                {"one": 1}
            ]

            private_postgres.stop()
            failed = await client.call("query", {"sql": "SELECT 1 AS one"})
            assert failed.is_error and failed.text.startswith(UNAVAILABLE), failed.text
            assert _ready_reason(server).startswith("database_reachable: DatabaseUnavailable")
            _assert_no_password(failed.text, server.log_text())

            private_postgres.start()
            server.wait_ready(200, timeout=30)
            again = await client.call("query", {"sql": "SELECT 1 AS one"})
            assert again.data["rows"] == [{"one": 1}]
            _assert_no_password(_ready_text(server))
    finally:
        server.stop()
    _assert_no_password(server.log_text())


@pytest.mark.parametrize(
    ("script", "tool", "arguments"),
    [("mcp-todo", "list_tasks", {}), ("mcp-postgres", "query", {"sql": "SELECT 1"})],
)
async def test_a_wrong_password_is_refused_and_never_printed(
    probe_url: str, tmp_path: Path, script: str, tool: str, arguments: dict[str, object]
) -> None:
    wrong_url = probe_url.replace(PROBE_PASSWORD, WRONG_PASSWORD)
    server = launch(script, tmp_path, {"DATABASE_URL": wrong_url})
    try:
        assert "password authentication failed" in _ready_reason(server)
        async with connect("fastmcp-modern", server.mcp_url) as client:
            failed = await client.call(tool, arguments)
        assert failed.is_error and failed.text.startswith(UNAVAILABLE), failed.text
        _assert_no_password(failed.text, server.log_text())
    finally:
        server.stop()
    _assert_no_password(server.log_text())


@pytest.mark.parametrize("frozen_during", ["the wait for a call", "a query"])
async def test_postgres_call_fails_instead_of_hanging_when_the_database_freezes(
    private_postgres: PrivatePostgres, probe_url: str, tmp_path: Path, frozen_during: str
) -> None:
    # Statement timeout 1 s: the call may wait 1 + 5 s on a database that stopped answering.
    # It took 11 s (the pool then waited 5 s for the cancel request of the timed-out BEGIN)
    # and 12 s mid-query (the rollback waited out the command timeout a second time).
    env = {"DATABASE_URL": probe_url, "MCP_QUERY_TIMEOUT_SECONDS": "1"}
    server = launch("mcp-postgres", tmp_path, env)
    try:
        server.wait_ready()
        async with connect("fastmcp-modern", server.mcp_url) as client:
            assert not (await client.call("query", {"sql": "SELECT 1"})).is_error
            sql = "SELECT 1" if frozen_during == "the wait for a call" else "SELECT pg_sleep(0.5)"
            started = time.monotonic()
            call = asyncio.create_task(client.call("query", {"sql": sql}))
            if frozen_during == "a query":
                await asyncio.sleep(0.2)
            private_postgres.freeze()
            try:
                # Far longer than the 6 s the call may take: without a command timeout it
                # would wait for the TCP connection forever.
                frozen = await asyncio.wait_for(call, 60)
            finally:
                private_postgres.thaw()
            elapsed = time.monotonic() - started
        assert frozen.is_error and frozen.text.startswith(UNAVAILABLE), frozen.text
        assert "TimeoutError" in frozen.text
        assert elapsed < 6 + 1.5, elapsed
    finally:
        server.stop()
    _assert_no_password(frozen.text, server.log_text())
