"""Task operations with their validation: the one layer behind both the tools and /tasks."""

from dataclasses import dataclass

from mcp_todo.errors import InvalidArgument, TaskNotFound
from mcp_todo.models import TASK_STATUSES, DeletedTask, Task, TaskPage
from mcp_todo.store import TaskStore

MAX_TITLE_LENGTH = 500
MAX_DESCRIPTION_LENGTH = 10_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Changes:
    title: str | None = None
    description: str | None = None
    status: str | None = None


def _title(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("title", "must be a string")
    title = value.strip()
    if not title:
        raise InvalidArgument("title", "must not be empty")
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidArgument("title", f"must be at most {MAX_TITLE_LENGTH} characters")
    return title


def _description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument("description", "must be a string")
    if len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgument("description", f"must be at most {MAX_DESCRIPTION_LENGTH} characters")
    return value


def _status(value: object) -> str:
    if value not in TASK_STATUSES:
        raise InvalidArgument("status", f"must be one of {', '.join(TASK_STATUSES)}; got {value!r}")
    return str(value)


def _task_id(value: object) -> int:
    # bool is an int subclass; True must not mean task 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument("task_id", f"must be a positive integer; got {value!r}")
    return value


def _bounded_int(argument: str, value: object, low: int, high: int | None) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(argument, f"must be an integer; got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidArgument(argument, f"must be {bound}; got {value}")
    return value


class TaskService:
    def __init__(self, store: TaskStore) -> None:
        self.store = store

    async def create(
        self, title: object, description: object = "", status: object = "open"
    ) -> Task:
        return await self.store.create(_title(title), _description(description), _status(status))

    async def get(self, task_id: object) -> Task:
        valid_id = _task_id(task_id)
        task = await self.store.get(valid_id)
        if task is None:
            raise TaskNotFound(valid_id)
        return task

    async def list(
        self, status: object = None, limit: object = DEFAULT_PAGE_SIZE, offset: object = 0
    ) -> TaskPage:
        status_filter = None if status is None else _status(status)
        page_size = _bounded_int("limit", limit, 1, MAX_PAGE_SIZE)
        start = _bounded_int("offset", offset, 0, None)
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
            title=None if title is None else _title(title),
            description=None if description is None else _description(description),
            status=None if status is None else _status(status),
        )
        return await self._changed(_task_id(task_id), changes)

    async def complete(self, task_id: object) -> Task:
        return await self._changed(_task_id(task_id), Changes(status="done"))

    async def delete(self, task_id: object) -> DeletedTask:
        valid_id = _task_id(task_id)
        if not await self.store.delete(valid_id):
            raise TaskNotFound(valid_id)
        return DeletedTask(id=valid_id, deleted=True)

    async def _changed(self, task_id: int, changes: Changes) -> Task:
        task = await self.store.update(task_id, changes)
        if task is None:
            raise TaskNotFound(task_id)
        return task
