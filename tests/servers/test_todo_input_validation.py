"""Inputs the stores cannot hold: 4xx naming the field over REST, tool errors over MCP.

Ids and offsets beyond 64 bits, text with NUL or a lone surrogate, ids written with other
characters than ASCII digits, and bodies nested too deeply to parse each reached a bare 500
(and a dropped keep-alive connection) or a tool error quoting the database driver.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from harness.jsonrpc import MCP_HEADERS
from harness.mcp_clients import connect
from harness.processes import ServerProcess

TOO_BIG = 2**70  # 1180591620717411303424
MAX_ID = 2**63 - 1
ID_RANGE = f"must be an integer between 1 and {MAX_ID}"
OFFSET_RANGE = f"must be an integer between 0 and {MAX_ID}"
NUL_AT_1 = "must not contain NUL (U+0000) at index 1"
SURROGATE_AT_1 = "must not contain an unpaired surrogate (U+D800) at index 1"


@pytest.fixture(params=["sqlite", "postgresql"])
def todo_server(request: pytest.FixtureRequest) -> ServerProcess:
    name = "todo_sqlite_server" if request.param == "sqlite" else "todo_postgres_server"
    return request.getfixturevalue(name)


def _raw_json(text: str) -> dict[str, Any]:
    """A request body sent byte for byte: httpx cannot encode a lone surrogate itself."""
    return {"content": text.encode(), "headers": {"Content-Type": "application/json"}}


# (method, path, request keywords, status, argument, error the message starts with)
REST_CASES: list[tuple[str, str, dict[str, Any], int, str, str]] = [
    ("GET", f"/tasks/{TOO_BIG}", {}, 422, "task_id", f"task_id: {ID_RANGE}; got '{TOO_BIG}'"),
    ("GET", f"/tasks/{MAX_ID + 1}", {}, 422, "task_id", f"task_id: {ID_RANGE}"),
    ("PATCH", f"/tasks/{TOO_BIG}", {"json": {"status": "done"}}, 422, "task_id", "task_id: "),
    ("POST", f"/tasks/{TOO_BIG}/complete", {}, 422, "task_id", f"task_id: {ID_RANGE}"),
    ("DELETE", f"/tasks/{TOO_BIG}", {}, 422, "task_id", f"task_id: {ID_RANGE}"),
    ("GET", f"/tasks?offset={TOO_BIG}", {}, 422, "offset", f"offset: {OFFSET_RANGE}"),
    ("GET", f"/tasks?limit={TOO_BIG}", {}, 422, "limit", "limit: must be an integer between"),
    # int() reads all of these as 1 or 10; an id is ASCII digits and nothing else.
    ("GET", "/tasks/%201", {}, 422, "task_id", f"task_id: {ID_RANGE}; got ' 1'"),
    ("GET", "/tasks/1%20", {}, 422, "task_id", f"task_id: {ID_RANGE}"),
    ("GET", "/tasks/%D9%A1", {}, 422, "task_id", f"task_id: {ID_RANGE}; got '\u0661'"),
    ("GET", "/tasks/%EF%BC%91", {}, 422, "task_id", f"task_id: {ID_RANGE}"),
    ("GET", "/tasks/1_0", {}, 422, "task_id", f"task_id: {ID_RANGE}; got '1_0'"),
    ("GET", "/tasks/+1", {}, 422, "task_id", f"task_id: {ID_RANGE}"),
    ("GET", "/tasks/%00", {}, 422, "task_id", f"task_id: {ID_RANGE}; got '\\x00'"),
    ("GET", "/tasks?limit=%201", {}, 422, "limit", "limit: must be an integer between 1 and 100"),
    ("GET", "/tasks?offset=%D9%A1", {}, 422, "offset", f"offset: {OFFSET_RANGE}"),
    ("GET", "/tasks?offset=1_0", {}, 422, "offset", f"offset: {OFFSET_RANGE}"),
    ("GET", "/tasks?status=%00", {}, 422, "status", "status: must be one of open, in_progress"),
    # Python's int() refuses more than 4300 digits.
    ("GET", f"/tasks/{'9' * 5000}", {}, 422, "task_id", f"task_id: {ID_RANGE}; got '99999"),
    (
        "POST",
        "/tasks",
        _raw_json('{"title": "a\\ud800b"}'),
        422,
        "title",
        f"title: {SURROGATE_AT_1}",
    ),
    ("POST", "/tasks", _raw_json('{"title": "a\\u0000b"}'), 422, "title", f"title: {NUL_AT_1}"),
    (
        "POST",
        "/tasks",
        _raw_json('{"title": "ok", "description": "a\\u0000b"}'),
        422,
        "description",
        f"description: {NUL_AT_1}",
    ),
    ("PATCH", "/tasks/1", _raw_json('{"title": "a\\ud800b"}'), 422, "title", "title: "),
    ("PATCH", "/tasks/1", _raw_json('{"description": "\\u0000"}'), 422, "description", ""),
    (
        "POST",
        "/tasks",
        _raw_json('{"title": "ok", "\\ud800": 1}'),
        422,
        "'\\ud800'",
        "'\\ud800': unknown field",
    ),
    ("POST", "/tasks", _raw_json("[" * 100_000), 400, "body", "body: nested too deeply"),
    ("POST", "/tasks", _raw_json('{"title": ' + "[" * 100_000), 400, "body", "body: nested"),
    ("POST", "/tasks", _raw_json('{"title": ' + "9" * 5000 + "}"), 400, "body", "body: "),
]


@pytest.mark.parametrize(
    ("method", "path", "send", "status", "argument", "error"),
    REST_CASES,
    ids=[f"{c[0]} {c[1][:40]} {str(c[2])[:40]}" for c in REST_CASES],
)
def test_rest_rejects_unstorable_input_with_4xx_naming_the_field(
    todo_server: ServerProcess,
    method: str,
    path: str,
    send: dict[str, Any],
    status: int,
    argument: str,
    error: str,
) -> None:
    with httpx.Client(base_url=todo_server.base_url, timeout=30) as http:
        response = http.request(method, path, **send)
        assert response.status_code == status, response.text[:500]
        body = response.json()
        assert body["argument"] == argument, body
        assert body["error"].startswith(error), body
        # A 500 from an unhandled error also closed the keep-alive connection.
        assert response.headers.get("connection") != "close"
        assert http.get("/tasks", params={"limit": 1}).status_code == 200


def test_rest_accepts_the_largest_id_and_offset(todo_server: ServerProcess) -> None:
    with httpx.Client(base_url=todo_server.base_url, timeout=10) as http:
        missing = http.get(f"/tasks/{MAX_ID}")
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"] == f"task_id: no task with id {MAX_ID}"
        page = http.get("/tasks", params={"offset": MAX_ID, "limit": 100})
        assert page.status_code == 200, page.text
        assert page.json()["tasks"] == [] and page.json()["offset"] == MAX_ID
        created = http.post("/tasks", json={"title": "007"}).json()
        assert http.get(f"/tasks/{created['id']:05d}").json() == created


# (tool, arguments, the whole error message)
TOOL_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("get_task", {"task_id": TOO_BIG}, f"task_id: {ID_RANGE}; got {TOO_BIG}"),
    ("complete_task", {"task_id": TOO_BIG}, f"task_id: {ID_RANGE}; got {TOO_BIG}"),
    ("delete_task", {"task_id": TOO_BIG}, f"task_id: {ID_RANGE}; got {TOO_BIG}"),
    ("update_task", {"task_id": TOO_BIG, "title": "x"}, f"task_id: {ID_RANGE}; got {TOO_BIG}"),
    ("list_tasks", {"offset": TOO_BIG}, f"offset: {OFFSET_RANGE}; got {TOO_BIG}"),
    (
        "list_tasks",
        {"limit": TOO_BIG},
        f"limit: must be an integer between 1 and 100; got {TOO_BIG}",
    ),
    ("create_task", {"title": "a\x00b"}, f"title: {NUL_AT_1}"),
    ("create_task", {"title": "ok", "description": "a\x00b"}, f"description: {NUL_AT_1}"),
    ("update_task", {"task_id": 1, "title": "a\x00b"}, f"title: {NUL_AT_1}"),
    ("update_task", {"task_id": 1, "description": "a\x00b"}, f"description: {NUL_AT_1}"),
    # JSON true, and digits with spaces or in another script, are not ids either.
    ("get_task", {"task_id": True}, f"task_id: {ID_RANGE}; got True"),
    ("get_task", {"task_id": " 1"}, f"task_id: {ID_RANGE}; got ' 1'"),
    ("get_task", {"task_id": "\u0661"}, f"task_id: {ID_RANGE}; got '\u0661'"),
    ("get_task", {"task_id": 1.5}, f"task_id: {ID_RANGE}; got 1.5"),
    ("create_task", {"title": 5}, "title: must be a string; got 5"),
    (
        "list_tasks",
        {"status": "\x00"},
        "status: must be one of open, in_progress, done; got '\\x00'",
    ),
]


@pytest.mark.parametrize("client_kind", ["fastmcp-modern", "fastmcp-legacy"])
async def test_tools_reject_unstorable_input_naming_the_argument(
    todo_server: ServerProcess, client_kind: str
) -> None:
    async with connect(client_kind, todo_server.mcp_url) as client:
        for tool, args, message in TOOL_CASES:
            outcome = await client.call(tool, args)
            assert outcome.is_error, (tool, args, outcome.data)
            assert outcome.text == message, (tool, args)
        # Integers sent as ASCII digits still work, as they did before.
        created = await client.call("create_task", {"title": "by number"})
        fetched = await client.call("get_task", {"task_id": str(created.data["id"])})
        assert fetched.data == created.data


def test_a_lone_surrogate_over_mcp_is_refused_before_any_tool(todo_server: ServerProcess) -> None:
    """The JSON-RPC parser refuses it (MCP clients cannot even encode one); never a 500."""
    call = (
        '{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": '
        '{"name": "create_task", "arguments": {"title": "a\\ud800b"}}}'
    )
    response = httpx.post(
        todo_server.mcp_url,
        content=call.encode(),
        headers={**MCP_HEADERS, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code < 500, response.text
    assert "error" in response.json() or response.json()["result"]["isError"], response.text
