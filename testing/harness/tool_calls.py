"""Session-less tool calls over raw HTTP, for tests that watch a server rather than a client."""

from __future__ import annotations

from typing import Any

import httpx

from harness.jsonrpc import modern_request

# Calls of the todo server that work, and that fail each way a tool call can (the tool's own
# error, a bad argument, no such tool), each with whether its result is an error.
TODO_CALLS_EVERY_WAY: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("create_task", {"title": "t"}, False),
    ("list_tasks", {}, False),
    ("get_task", {"task_id": 999999}, True),
    ("get_task", {"task_id": "x"}, True),
    ("no_such_tool", {}, True),
)


def call_tool(mcp_url: str, tool: str, arguments: dict[str, Any]) -> httpx.Response:
    """One 2026-07-28 tools/call POSTed to `mcp_url`."""
    headers, body = modern_request("tools/call", {"name": tool, "arguments": arguments})
    return httpx.post(mcp_url, json=body, headers=headers, timeout=10)


def call_todo_every_way(mcp_url: str) -> None:
    """Make TODO_CALLS_EVERY_WAY, asserting each is answered and errs only when it should."""
    for tool, arguments, is_error in TODO_CALLS_EVERY_WAY:
        answer = call_tool(mcp_url, tool, arguments)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"].get("isError", False) is is_error, answer.text
