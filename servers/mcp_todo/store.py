"""The storage interface the task service depends on, and the factory that picks a backend."""

from pathlib import Path
from typing import Protocol

from mcp_todo.models import Task


class TaskChanges(Protocol):
    """Fields to change on a task; None leaves a field as it is."""

    title: str | None
    description: str | None
    status: str | None


class TaskStore(Protocol):
    async def open(self) -> None:
        """Connect and create the schema; raises StoreUnavailable if the database is down."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers and the schema exists."""

    async def check_writable(self) -> None:
        """Raise StoreFull or StoreUnavailable when a write would fail for want of storage."""

    async def create(self, title: str, description: str, status: str) -> Task: ...

    async def get(self, task_id: int) -> Task | None: ...

    async def list(self, status: str | None, limit: int, offset: int) -> tuple[list[Task], int]:
        """Return one page of tasks ordered by id, and the total matching the filter."""

    async def update(self, task_id: int, changes: TaskChanges) -> Task | None: ...

    async def delete(self, task_id: int) -> bool: ...


def make_store(database_url: str | None, data_dir: Path) -> TaskStore:
    """PostgreSQL when a URL is configured, otherwise an embedded SQLite file in `data_dir`."""
    if database_url:
        from mcp_todo.store_postgres import PostgresTaskStore

        return PostgresTaskStore(database_url)
    from mcp_todo.store_sqlite import SqliteTaskStore

    return SqliteTaskStore(data_dir / "todo.sqlite3")
