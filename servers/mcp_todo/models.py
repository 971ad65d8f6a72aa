"""Task data shapes shared by the stores, the service, the tools and the REST API."""

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel

TaskStatus = Literal["open", "in_progress", "done"]
TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)


class Task(BaseModel):
    id: int
    title: str
    description: str
    status: TaskStatus
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskPage(BaseModel):
    tasks: list[Task]
    total: int
    limit: int
    offset: int


class DeletedTask(BaseModel):
    id: int
    deleted: bool
