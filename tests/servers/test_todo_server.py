"""The todo server as a real process: MCP clients of both protocol generations, and /tasks."""

from __future__ import annotations

import subprocess
from importlib.metadata import version

import httpx
import pytest
from harness.jsonrpc import INITIALIZE, MCP_HEADERS
from harness.mcp_clients import CLIENTS, connect
from harness.processes import ServerProcess
from harness.servers import VENV_BIN, launch
from pg_admin import psql, with_database

TOOLS = {"create_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"}


@pytest.fixture(params=["sqlite", "postgresql"])
def todo_server(request: pytest.FixtureRequest) -> ServerProcess:
    name = "todo_sqlite_server" if request.param == "sqlite" else "todo_postgres_server"
    return request.getfixturevalue(name)


@pytest.mark.parametrize("client_kind", CLIENTS)
async def test_task_lifecycle_through_each_client(
    todo_server: ServerProcess, client_kind: str
) -> None:
    async with connect(client_kind, todo_server.mcp_url) as client:
        assert set(client.tool_names) == TOOLS
        expected = "2025-11-25" if client_kind.endswith("legacy") else "2026-07-28"
        assert client.protocol_version == expected
        created = await client.call("create_task", {"title": f"via {client_kind}"})
        assert not created.is_error, created.text
        task_id = created.data["id"]
        assert created.data["status"] == "open"

        updated = await client.call("update_task", {"task_id": task_id, "status": "in_progress"})
        assert updated.data["status"] == "in_progress"
        done = await client.call("complete_task", {"task_id": task_id})
        assert done.data["status"] == "done" and done.data["completed_at"]

        listed = await client.call("list_tasks", {"status": "done", "limit": 100})
        assert task_id in [t["id"] for t in listed.data["tasks"]]
        fetched = await client.call("get_task", {"task_id": task_id})
        assert fetched.data["title"] == f"via {client_kind}"

        deleted = await client.call("delete_task", {"task_id": task_id})
        assert deleted.data == {"id": task_id, "deleted": True}
        gone = await client.call("get_task", {"task_id": task_id})
        assert gone.is_error and f"task_id: no task with id {task_id}" in gone.text


BAD_CALLS = [
    ("create_task", {"title": ""}, "title: must not be empty"),
    (
        "create_task",
        {"title": "x", "status": "someday"},
        "status: must be one of open, in_progress, done; got 'someday'",
    ),
    (
        "list_tasks",
        {"status": "closed"},
        "status: must be one of open, in_progress, done; got 'closed'",
    ),
    ("list_tasks", {"limit": 0}, "limit: must be an integer between 1 and 100; got 0"),
    (
        "list_tasks",
        {"offset": -5},
        "offset: must be an integer between 0 and 9223372036854775807; got -5",
    ),
    ("get_task", {"task_id": 987654}, "task_id: no task with id 987654"),
    (
        "complete_task",
        {"task_id": -1},
        "task_id: must be an integer between 1 and 9223372036854775807; got -1",
    ),
    ("update_task", {"task_id": 987654, "title": "new"}, "task_id: no task with id 987654"),
]


@pytest.mark.parametrize("client_kind", ["fastmcp-modern", "mcp-legacy"])
async def test_bad_arguments_are_tool_errors_naming_the_argument(
    todo_sqlite_server: ServerProcess, client_kind: str
) -> None:
    async with connect(client_kind, todo_sqlite_server.mcp_url) as client:
        for tool, args, message in BAD_CALLS:
            outcome = await client.call(tool, args)
            assert outcome.is_error, (tool, args)
            assert outcome.text == message


def test_rest_api_shares_the_service_with_the_tools(todo_server: ServerProcess) -> None:
    with httpx.Client(base_url=todo_server.base_url, timeout=10) as http:
        created = http.post("/tasks", json={"title": "from a backend", "description": "REST"})
        assert created.status_code == 201, created.text
        task = created.json()
        assert task["status"] == "open"

        assert http.get(f"/tasks/{task['id']}").json() == task
        patched = http.patch(f"/tasks/{task['id']}", json={"title": "renamed"})
        assert patched.status_code == 200 and patched.json()["title"] == "renamed"
        completed = http.post(f"/tasks/{task['id']}/complete")
        assert completed.json()["status"] == "done"
        page = http.get("/tasks", params={"status": "done", "limit": 100}).json()
        assert task["id"] in [t["id"] for t in page["tasks"]]
        assert page["limit"] == 100 and page["offset"] == 0 and page["total"] >= 1

        assert http.delete(f"/tasks/{task['id']}").status_code == 204
        missing = http.get(f"/tasks/{task['id']}")
        assert missing.status_code == 404
        assert missing.json() == {
            "error": f"task_id: no task with id {task['id']}",
            "argument": "task_id",
        }


async def test_rest_writes_are_visible_to_mcp_clients(todo_sqlite_server: ServerProcess) -> None:
    task = httpx.post(
        f"{todo_sqlite_server.base_url}/tasks", json={"title": "seen by agents"}
    ).json()
    async with connect("fastmcp-modern", todo_sqlite_server.mcp_url) as client:
        fetched = await client.call("get_task", {"task_id": task["id"]})
    assert fetched.data["title"] == "seen by agents"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("POST", "/tasks", {"title": "  "}, 422, "title: must not be empty"),
        ("POST", "/tasks", {}, 422, "title: is required"),
        (
            "POST",
            "/tasks",
            {"title": "x", "owner": "me"},
            422,
            "owner: unknown field; allowed: description, status, title",
        ),
        ("POST", "/tasks", "not json", 400, "body: must be a JSON object"),
        ("POST", "/tasks", ["a list"], 400, "body: must be a JSON object"),
        (
            "GET",
            "/tasks?status=later",
            None,
            422,
            "status: must be one of open, in_progress, done; got 'later'",
        ),
        (
            "GET",
            "/tasks?limit=many",
            None,
            422,
            "limit: must be an integer between 1 and 100; got 'many'",
        ),
        (
            "GET",
            "/tasks?limit=1000",
            None,
            422,
            "limit: must be an integer between 1 and 100; got '1000'",
        ),
        ("GET", "/tasks/abc", None, 422, "task_id: must be an integer between 1 and"),
        (
            "GET",
            "/tasks/0",
            None,
            422,
            "task_id: must be an integer between 1 and 9223372036854775807; got '0'",
        ),
        ("GET", "/tasks/999999", None, 404, "task_id: no task with id 999999"),
        ("PATCH", "/tasks/999999", {"status": "done"}, 404, "task_id: no task with id 999999"),
        (
            "PATCH",
            "/tasks/1",
            {"status": "finished"},
            422,
            "status: must be one of open, in_progress, done; got 'finished'",
        ),
        ("POST", "/tasks/999999/complete", None, 404, "task_id: no task with id 999999"),
        ("DELETE", "/tasks/999999", None, 404, "task_id: no task with id 999999"),
    ],
)
def test_rest_errors_have_status_and_message(
    todo_sqlite_server: ServerProcess, method: str, path: str, body: object, status: int, error: str
) -> None:
    content = body.encode() if isinstance(body, str) else None
    response = httpx.request(
        method,
        f"{todo_sqlite_server.base_url}{path}",
        json=None if isinstance(body, str) else body,
        content=content,
        headers={"Content-Type": "application/json"} if content else None,
    )
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith(error)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_rest_bodies_must_be_json(
    todo_sqlite_server: ServerProcess, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in (("POST", "/tasks"), ("PATCH", "/tasks/1")):
        response = httpx.request(
            method,
            f"{todo_sqlite_server.base_url}{path}",
            content=b'{"title": "smuggled"}',
            headers=headers,
        )
        assert response.status_code == 415, response.text
        assert response.json()["error"].startswith("content-type: must be application/json")


def test_rest_routes_reject_foreign_host_and_origin(todo_sqlite_server: ServerProcess) -> None:
    # A DNS-rebinding page: the browser names the attacker's host and origin.
    url = f"{todo_sqlite_server.base_url}/tasks"
    body = {"json": {"title": "rebound"}}
    assert httpx.post(url, headers={"Host": "evil.example:8001"}, **body).status_code == 421
    foreign_origin = {"Origin": "http://evil.example"}
    assert httpx.post(url, headers=foreign_origin, **body).status_code == 403
    assert httpx.get(url, headers={"Host": "evil.example:8001"}).status_code == 421
    # Probes stay open to any Host: the kubelet uses the pod IP.
    for probe in ("/health", "/ready", "/metrics"):
        response = httpx.get(
            f"{todo_sqlite_server.base_url}{probe}", headers={"Host": "10.0.0.7:8001"}
        )
        assert response.status_code == 200, probe


async def test_tool_calls_are_counted_in_metrics(todo_sqlite_server: ServerProcess) -> None:
    def created_ok() -> float:
        text = httpx.get(f"{todo_sqlite_server.base_url}/metrics").text
        line = next(
            line
            for line in text.splitlines()
            if line.startswith('mcp_tool_calls_total{outcome="ok",tool="create_task"}')
        )
        return float(line.rsplit(" ", 1)[1])

    before = created_ok()
    async with connect("fastmcp-modern", todo_sqlite_server.mcp_url) as client:
        await client.call("create_task", {"title": "counted"})
    assert created_ok() == before + 1


def test_bearer_token_guards_tasks_as_well_as_mcp(tmp_path) -> None:
    server = launch(
        "mcp-todo",
        tmp_path,
        {"MCP_DATA_DIR": str(tmp_path / "data"), "MCP_AUTH_TOKEN": "s3cret-token"},
    )
    try:
        server.wait_ready()
        anonymous = httpx.get(f"{server.base_url}/tasks")
        assert anonymous.status_code == 401
        assert anonymous.json() == {"error": "authorization: a valid bearer token is required"}
        wrong = httpx.get(f"{server.base_url}/tasks", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        allowed = httpx.get(
            f"{server.base_url}/tasks", headers={"Authorization": "Bearer s3cret-token"}
        )
        assert allowed.status_code == 200
        assert httpx.post(f"{server.base_url}/mcp", json={}).status_code == 401
        assert "s3cret-token" not in server.log_text()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://db/tasks"}, "DATABASE_URL: URL scheme should be"),
        ({"MCP_PORT": "abc"}, "MCP_PORT: Input should be a valid integer"),
    ],
)
def test_bad_settings_stop_the_server_with_one_line(tmp_path, env: dict, message: str) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "mcp-todo")],
        env={"PATH": "/usr/bin:/bin", "MCP_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_sigterm_exits_cleanly(tmp_path) -> None:
    server = launch("mcp-todo", tmp_path, {"MCP_DATA_DIR": str(tmp_path / "data")})
    server.wait_ready()
    server.stop()
    assert server.process.returncode == 0, server.log_text()


async def test_stateful_mode_serves_both_generations(tmp_path) -> None:
    server = launch(
        "mcp-todo", tmp_path, {"MCP_DATA_DIR": str(tmp_path / "data"), "MCP_STATELESS": "false"}
    )
    try:
        server.wait_ready()
        for kind in ("fastmcp-legacy", "mcp-modern"):
            async with connect(kind, server.mcp_url) as client:
                created = await client.call("create_task", {"title": f"stateful {kind}"})
                fetched = await client.call("get_task", {"task_id": created.data["id"]})
            assert fetched.data["title"] == f"stateful {kind}"
    finally:
        server.stop()


def test_initialize_reports_the_project_version(todo_sqlite_server: ServerProcess) -> None:
    response = httpx.post(todo_sqlite_server.mcp_url, json=INITIALIZE, headers=MCP_HEADERS)
    server_info = response.json()["result"]["serverInfo"]
    assert server_info == {"name": "todo", "version": version("mcp-servers")}


def _set_read_only(database_url: str, read_only: bool) -> None:
    """Make the database refuse writes, as a standby does, or accept them again; its current
    sessions are ended so that the server's next connections see the change."""
    name = database_url.rsplit("/", 1)[1]
    setting = "SET default_transaction_read_only = on" if read_only else "RESET ALL"
    # From another database: a session in this one would be read-only itself.
    admin = with_database(database_url, "postgres")
    psql(admin, f"ALTER DATABASE {name} {setting}")
    psql(
        admin,
        f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'",
    )


def test_a_read_only_postgresql_is_unavailable_not_a_crash_or_a_500(tmp_path, new_database) -> None:
    # A standby (after a failover, or before its promotion) refuses every write: the server
    # exited at start on the schema's CREATE TABLE, and later writes answered a bare 500
    # while /ready said 200.
    database = new_database()
    _set_read_only(database, True)
    server = launch("mcp-todo", tmp_path, {"DATABASE_URL": database})
    try:
        refused = "(ReadOnlySQLTransactionError: cannot execute CREATE TABLE in a read-only"
        ready = httpx.get(f"{server.base_url}/ready", timeout=10)
        assert ready.status_code == 503 and refused in ready.json()["reason"], ready.text
        write = httpx.post(f"{server.base_url}/tasks", json={"title": "x"}, timeout=10)
        assert write.status_code == 503 and refused in write.json()["error"], write.text

        _set_read_only(database, False)
        server.wait_ready()
        created = httpx.post(f"{server.base_url}/tasks", json={"title": "x"}, timeout=10)
        assert created.status_code == 201, created.text

        _set_read_only(database, True)
        for method, path, body in [
            ("POST", "/tasks", {"title": "y"}),
            ("PATCH", "/tasks/1", {"title": "z"}),
            ("POST", "/tasks/1/complete", None),
            ("DELETE", "/tasks/1", None),
        ]:
            # The first may meet a connection that was ended: unavailable too.
            answer = httpx.request(method, f"{server.base_url}{path}", json=body, timeout=10)
            assert answer.status_code == 503, (method, path, answer.text)
            assert answer.json()["error"].startswith("database unavailable, try again later")
        assert "ReadOnlySQLTransactionError: cannot execute" in answer.json()["error"]
        assert httpx.get(f"{server.base_url}/tasks/1", timeout=10).status_code == 200
        ready = httpx.get(f"{server.base_url}/ready", timeout=10)
        assert ready.status_code == 503, ready.text
        assert ready.json()["reason"] == (
            "database_writable: StoreUnavailable: database unavailable, try again later"
            " (ReadOnlySQLTransactionError: the database refuses writes"
            " (transaction_read_only is on))"
        )
    finally:
        server.stop()
