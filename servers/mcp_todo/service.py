"""Task operations, each argument checked (arguments.py) before a store sees it.

The one layer behind both the tools and /tasks, so validation and errors are the same.
"""

from dataclasses import dataclass

from mcp_todo import arguments
from mcp_todo.arguments import DEFAULT_PAGE_SIZE
from mcp_todo.errors import TaskNotFound
from mcp_todo.models import DeletedTask, Task, TaskPage
from mcp_todo.store import TaskStore


@dataclass(frozen=True)
class Changes:
    title: str | None = None
    description: str | None = None
    status: str | None = None


class TaskService:
    def __init__(self, store: TaskStore) -> None:
        self.store = store

    async def create(
        self, title: object, description: object = "", status: object = "open"
    ) -> Task:
        return await self.store.create(
            arguments.title(title), arguments.description(description), arguments.status(status)
        )

    async def get(self, task_id: object) -> Task:
        valid_id = arguments.task_id(task_id)
        task = await self.store.get(valid_id)
        if task is None:
            raise TaskNotFound(valid_id)
        return task

    async def list(
        self, status: object = None, limit: object = DEFAULT_PAGE_SIZE, offset: object = 0
    ) -> TaskPage:
        status_filter = None if status is None else arguments.status(status)
        page_size = arguments.page_size(limit)
        start = arguments.offset(offset)
        tasks, total = await self.store.list(status_filter, page_size, start)
        return TaskPage(tasks=tasks, total=total, limit=page_size, offset=start)

    async def update(
        self,
        task_id: object,
        title: object = None,
        description: object = None,
        status: object = None,
    ) -> Task:
        changes = Changes(
            title=None if title is None else arguments.title(title),
            description=None if description is None else arguments.description(description),
            status=None if status is None else arguments.status(status),
        )
        return await self._changed(arguments.task_id(task_id), changes)

    async def complete(self, task_id: object) -> Task:
        return await self._changed(arguments.task_id(task_id), Changes(status="done"))

    async def delete(self, task_id: object) -> DeletedTask:
        valid_id = arguments.task_id(task_id)
        if not await self.store.delete(valid_id):
            raise TaskNotFound(valid_id)
        return DeletedTask(id=valid_id, deleted=True)

    async def _changed(self, task_id: int, changes: Changes) -> Task:
        task = await self.store.update(task_id, changes)
        if task is None:
            raise TaskNotFound(task_id)
        return task
