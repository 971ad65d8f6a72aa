"""/api/tasks: the todo app's API, each route one call of a todo tool."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from mcp_backend_client import BackendClient
from pydantic import BaseModel, Field

TaskStatus = Literal["open", "in_progress", "done"]


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


class NewTask(BaseModel):
    title: str = Field(min_length=1)
    description: str = ""


def _todo(request: Request) -> BackendClient:
    todo: BackendClient = request.app.state.todo
    return todo


Todo = Annotated[BackendClient, Depends(_todo)]

router = APIRouter(prefix="/api/tasks")


@router.get("")
async def list_tasks(
    todo: Todo,
    status: TaskStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TaskPage:
    page = await todo.call_tool("list_tasks", {"status": status, "limit": limit, "offset": offset})
    return TaskPage.model_validate(page)


@router.post("", status_code=201)
async def create_task(todo: Todo, task: NewTask) -> Task:
    return Task.model_validate(await todo.call_tool("create_task", task.model_dump()))


@router.get("/{task_id}")
async def get_task(todo: Todo, task_id: int) -> Task:
    return Task.model_validate(await todo.call_tool("get_task", {"task_id": task_id}))


@router.post("/{task_id}/complete")
async def complete_task(todo: Todo, task_id: int) -> Task:
    return Task.model_validate(await todo.call_tool("complete_task", {"task_id": task_id}))
