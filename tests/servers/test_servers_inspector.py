"""The MCP Inspector CLI (session-based protocol, from npm) against both servers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from harness.processes import ServerProcess

Inspector = Callable[..., subprocess.CompletedProcess[str]]


def _json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_inspector_lists_and_calls_todo_tools(
    inspector: Inspector, todo_sqlite_server: ServerProcess
) -> None:
    listed = _json(inspector(todo_sqlite_server.mcp_url, "--method", "tools/list"))
    assert {tool["name"] for tool in listed["tools"]} >= {"create_task", "list_tasks"}

    called = _json(
        inspector(
            todo_sqlite_server.mcp_url,
            "--method",
            "tools/call",
            "--tool-name",
            "create_task",
            "--tool-arg",
            "title=from the inspector",
        )
    )
    assert not called.get("isError")
    assert called["structuredContent"]["title"] == "from the inspector"


def test_inspector_lists_and_calls_postgres_tools(
    inspector: Inspector, postgres_server: ServerProcess
) -> None:
    listed = _json(inspector(postgres_server.mcp_url, "--method", "tools/list"))
    assert {tool["name"] for tool in listed["tools"]} == {
        "list_schemas",
        "list_tables",
        "describe_table",
        "query",
    }

    called = _json(
        inspector(
            postgres_server.mcp_url,
            "--method",
            "tools/call",
            "--tool-name",
            "describe_table",
            "--tool-arg",
            "table=orders",
        )
    )
    assert not called.get("isError")
    assert called["structuredContent"]["primary_key"] == ["id"]
