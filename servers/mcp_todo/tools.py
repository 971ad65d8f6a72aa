"""The todo MCP tools: thin typed wrappers over the task service."""

from functools import partial
from typing import Annotated

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from mcp_runtime.tool_errors import reported_to_caller
from pydantic import Field

from mcp_todo.errors import StoreUnavailable, TaskError
from mcp_todo.models import TASK_STATUSES, DeletedTask, Task, TaskPage
from mcp_todo.service import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, TaskService

# Constraints are advertised in the JSON schema but checked by the service, so that a bad
# value gets the same one-line ToolError naming the argument as over REST.
TaskId = Annotated[
    int,
    Field(
        description="Id of the task, as returned by create_task.", json_schema_extra={"minimum": 1}
    ),
]
Status = Annotated[str, Field(json_schema_extra={"enum": list(TASK_STATUSES)})]
StatusFilter = Annotated[
    str | None,
    Field(
        description="Only tasks with this status; all tasks if omitted.",
        json_schema_extra={"enum": [*TASK_STATUSES, None]},
    ),
]
Limit = Annotated[
    int,
    Field(description="Page size.", json_schema_extra={"minimum": 1, "maximum": MAX_PAGE_SIZE}),
]
Offset = Annotated[int, Field(description="Tasks to skip.", json_schema_extra={"minimum": 0})]

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True)
WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False)


# Service errors already name the argument, so their messages reach the client as they are.
_as_tool_error = partial(reported_to_caller, retry_later=StoreUnavailable, rejected=TaskError)


def register_tools(mcp: FastMCP, service: TaskService) -> None:
    @mcp.tool(annotations=WRITES)
    async def create_task(
        title: Annotated[str, Field(description="Short summary; must not be empty.")],
        description: str = "",
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
        title: str | None = None,
        description: str | None = None,
        status: Status | None = None,
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
