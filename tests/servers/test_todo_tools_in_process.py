"""The todo tools in process, through FastMCP's in-memory Client: the tool logic, schemas and
errors exactly as a client sees them, without a server process (the real-process tests in
test_todo_server.py cover HTTP, auth and the runtime)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp_runtime import RuntimeSettings
from mcp_todo.server import create


@pytest.fixture(params=["sqlite", "postgresql"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path, new_database: Callable[[], str]
) -> AsyncIterator[Client]:
    env = {"mcp_data_dir": tmp_path / "data"}
    if request.param == "postgresql":
        env["database_url"] = new_database()
    spec = create(RuntimeSettings(**env))
    assert spec.lifespan is not None
    async with spec.lifespan(), Client(spec.mcp) as connected:
        yield connected


async def test_the_tools_a_client_sees(client: Client) -> None:
    tools = {tool.name: tool for tool in await client.list_tools()}
    assert set(tools) == {
        "create_task",
        "get_task",
        "list_tasks",
        "update_task",
        "complete_task",
        "delete_task",
    }
    assert tools["get_task"].annotations.read_only_hint is True
    assert tools["create_task"].input_schema["required"] == ["title"]


async def test_a_task_through_its_life(client: Client) -> None:
    created = (await client.call_tool("create_task", {"title": " Rotate keys "})).data
    assert created.title == "Rotate keys" and created.status == "open"
    done = (await client.call_tool("complete_task", {"task_id": created.id})).data
    assert done.status == "done" and done.completed_at is not None
    page = (await client.call_tool("list_tasks", {"status": "done"})).structured_content
    assert [task["id"] for task in page["tasks"]] == [created.id]
    await client.call_tool("delete_task", {"task_id": created.id})
    with pytest.raises(ToolError, match=f"task_id: no task with id {created.id}"):
        await client.call_tool("get_task", {"task_id": created.id})


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("get_task", {"task_id": 2**70}, "task_id: must be an integer between 1 and"),
        ("list_tasks", {"offset": -1}, "offset: must be an integer between 0 and"),
        ("list_tasks", {"limit": 0}, "limit: must be an integer between 1 and 100"),
        ("create_task", {"title": "a\x00b"}, "title: must not contain NUL (U+0000) at index 1"),
        ("create_task", {"title": "   "}, "title: must not be empty"),
        ("list_tasks", {"status": "later"}, "status: must be one of open, in_progress, done"),
    ],
)
async def test_bad_arguments_name_themselves_on_both_stores(
    client: Client, tool: str, arguments: dict, message: str
) -> None:
    with pytest.raises(ToolError) as refused:
        await client.call_tool(tool, arguments)
    assert message in str(refused.value)
    assert "sqlite" not in str(refused.value).lower()
    assert "asyncpg" not in str(refused.value).lower()
