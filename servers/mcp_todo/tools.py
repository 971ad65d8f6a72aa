"""The todo MCP tools: thin typed wrappers over the task service."""

from functools import partial
from typing import Annotated, Any

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from mcp_runtime.tool_errors import reported_to_caller
from pydantic import WithJsonSchema

from mcp_todo.arguments import (
    DEFAULT_PAGE_SIZE,
    MAX_DESCRIPTION_LENGTH,
    MAX_INT64,
    MAX_PAGE_SIZE,
    MAX_TITLE_LENGTH,
)
from mcp_todo.errors import StoreFull, StoreUnavailable, TaskError
from mcp_todo.models import TASK_STATUSES, DeletedTask, Task, TaskPage
from mcp_todo.service import TaskService

# Every parameter is `Any` to FastMCP, which passes it on as sent, and advertises its JSON
# schema to clients. The service checks each argument (arguments.py), so a bad value gets
# the same one-line ToolError naming the argument as over REST; left to pydantic, true
# became task 1, " 1" too, and a value beyond 64 bits reached the database driver.
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_INT64}
_STATUS = {"type": "string", "enum": list(TASK_STATUSES)}
_NULL = {"type": "null"}

TaskId = Annotated[
    Any, WithJsonSchema({**_ID, "description": "Id of the task, as returned by create_task."})
]
Title = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TITLE_LENGTH,
            "description": "Short summary; must not be empty.",
        }
    ),
]
Description = Annotated[
    Any, WithJsonSchema({"type": "string", "maxLength": MAX_DESCRIPTION_LENGTH})
]
Status = Annotated[Any, WithJsonSchema(_STATUS)]
NewTitle = Annotated[
    Any, WithJsonSchema({"anyOf": [{"type": "string", "maxLength": MAX_TITLE_LENGTH}, _NULL]})
]
NewDescription = Annotated[
    Any, WithJsonSchema({"anyOf": [{"type": "string", "maxLength": MAX_DESCRIPTION_LENGTH}, _NULL]})
]
NewStatus = Annotated[Any, WithJsonSchema({"anyOf": [_STATUS, _NULL]})]
StatusFilter = Annotated[
    Any,
    WithJsonSchema(
        {
            "anyOf": [_STATUS, _NULL],
            "description": "Only tasks with this status; all tasks if omitted.",
        }
    ),
]
Limit = Annotated[
    Any,
    WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "description": "Page size."}
    ),
]
Offset = Annotated[
    Any,
    WithJsonSchema(
        {"type": "integer", "minimum": 0, "maximum": MAX_INT64, "description": "Tasks to skip."}
    ),
]

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True)
WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False)


# Service errors already name the argument, so their messages reach the client as they are.
_as_tool_error = partial(
    reported_to_caller, retry_later=(StoreUnavailable, StoreFull), rejected=TaskError
)


def register_tools(mcp: FastMCP, service: TaskService) -> None:
    @mcp.tool(annotations=WRITES)
    async def create_task(
        title: Title,
        description: Description = "",
        status: Status = "open",
    ) -> Task:
        """Create a task and return it with its new id."""
        with _as_tool_error():
            return await service.create(title, description, status)

    @mcp.tool(annotations=READ_ONLY)
    async def list_tasks(
        status: StatusFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        offset: Offset = 0,
    ) -> TaskPage:
        """List tasks ordered by id, one page at a time, with the total that match."""
        with _as_tool_error():
            return await service.list(status, limit, offset)

    @mcp.tool(annotations=READ_ONLY)
    async def get_task(task_id: TaskId) -> Task:
        """Return one task."""
        with _as_tool_error():
            return await service.get(task_id)

    @mcp.tool(annotations=WRITES)
    async def update_task(
        task_id: TaskId,
        title: NewTitle = None,
        description: NewDescription = None,
        status: NewStatus = None,
    ) -> Task:
        """Change the title, description or status of a task; omitted fields stay as they are."""
        with _as_tool_error():
            return await service.update(task_id, title, description, status)

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, idempotentHint=True))
    async def complete_task(task_id: TaskId) -> Task:
        """Mark a task as done."""
        with _as_tool_error():
            return await service.complete(task_id)

    @mcp.tool(annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=True))
    async def delete_task(task_id: TaskId) -> DeletedTask:
        """Delete a task for good."""
        with _as_tool_error():
            return await service.delete(task_id)
