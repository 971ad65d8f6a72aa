"""`make demo`'s proof that the fleet answers: real MCP tool calls through the cluster.

demo_call.py TODO_URL MEMORY_URL
"""

from __future__ import annotations

import asyncio
import sys

from fastmcp import Client


async def main(todo_url: str, memory_url: str) -> None:
    async with Client(todo_url) as todo:
        created = await todo.call_tool("create_task", {"title": "Try the MCP fleet on Kubernetes"})
        listed = await todo.call_tool("list_tasks", {"status": "open"})
        print(f"todo.create_task -> id {created.structured_content['id']}")
        print(f"todo.list_tasks  -> {listed.structured_content['total']} open task(s)")
    async with Client(memory_url) as memory:
        await memory.call_tool(
            "remember", {"text": "The demo fleet runs on a local Kubernetes node."}
        )
        recalled = await memory.call_tool("recall", {"query": "where does the fleet run?"})
        best = recalled.structured_content["memories"][0]
        print(f"memory.recall    -> {best['text']!r} (score {best['score']:.2f})")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
