"""The task service on both stores: real PostgreSQL and a real SQLite file."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from mcp_todo.errors import InvalidArgument, TaskNotFound
from mcp_todo.service import TaskService
from mcp_todo.store import make_store
from mcp_todo.store_postgres import PostgresTaskStore


@pytest.fixture(params=["postgresql", "sqlite"])
async def service(
    request: pytest.FixtureRequest, new_database: Callable[[], str], tmp_path: Path
) -> AsyncIterator[TaskService]:
    url = new_database() if request.param == "postgresql" else None
    store = make_store(url, tmp_path / "data")
    await store.open()
    yield TaskService(store)
    await store.close()


async def test_create_get_update_complete_delete(service: TaskService) -> None:
    created = await service.create("  Write the runbook ", "for on-call")
    assert created.title == "Write the runbook"
    assert created.status == "open" and created.completed_at is None
    assert (await service.get(created.id)) == created

    updated = await service.update(created.id, status="in_progress", description="v2")
    assert (updated.status, updated.description, updated.title) == (
        "in_progress",
        "v2",
        "Write the runbook",
    )
    assert updated.updated_at >= created.updated_at

    done = await service.complete(created.id)
    assert done.status == "done" and done.completed_at is not None
    reopened = await service.update(created.id, status="open")
    assert reopened.completed_at is None

    assert (await service.delete(created.id)).deleted
    with pytest.raises(TaskNotFound, match=rf"task_id: no task with id {created.id}"):
        await service.get(created.id)


async def test_list_filters_by_status_and_pages(service: TaskService) -> None:
    ids = [(await service.create(f"task {n}")).id for n in range(7)]
    for task_id in ids[:3]:
        await service.complete(task_id)

    first = await service.list(limit=4)
    assert [t.id for t in first.tasks] == ids[:4] and first.total == 7
    second = await service.list(limit=4, offset=4)
    assert [t.id for t in second.tasks] == ids[4:]
    done = await service.list(status="done")
    assert [t.id for t in done.tasks] == ids[:3] and done.total == 3
    assert (await service.list(status="open", offset=10)).tasks == []


MAX_ID = 2**63 - 1
ID_RANGE = f"task_id: must be an integer between 1 and {MAX_ID}"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.create(""), "title: must not be empty"),
        (lambda s: s.create("   "), "title: must not be empty"),
        (lambda s: s.create(42), "title: must be a string; got 42"),
        (lambda s: s.create("x" * 501), "title: must be at most 500 characters"),
        (
            lambda s: s.create("ok", status="later"),
            "status: must be one of open, in_progress, done; got 'later'",
        ),
        (lambda s: s.list(status="finished"), "status: must be one of open, in_progress, done"),
        (lambda s: s.list(limit=0), "limit: must be an integer between 1 and 100; got 0"),
        (lambda s: s.list(limit=101), "limit: must be an integer between 1 and 100; got 101"),
        (lambda s: s.list(offset=-1), f"offset: must be an integer between 0 and {MAX_ID}; got -1"),
        (lambda s: s.get(0), f"{ID_RANGE}; got 0"),
        (lambda s: s.get(True), f"{ID_RANGE}; got True"),
        (lambda s: s.update(1, title=""), "title: must not be empty"),
        # What the drivers cannot take: 64-bit integers, NUL (PostgreSQL), lone surrogates
        # (UTF-8). Both stores must refuse them alike, before either driver sees them.
        (lambda s: s.get(MAX_ID + 1), f"{ID_RANGE}; got {MAX_ID + 1}"),
        (lambda s: s.delete(2**70), f"{ID_RANGE}; got {2**70}"),
        (lambda s: s.complete(-(2**70)), f"{ID_RANGE}; got {-(2**70)}"),
        (lambda s: s.get(10**5000), f"{ID_RANGE}; got <int too large to print>"),
        (lambda s: s.list(offset=2**70), f"offset: must be an integer between 0 and {MAX_ID}"),
        (lambda s: s.get("\u0661"), f"{ID_RANGE}; got '\u0661'"),
        (lambda s: s.get(" 1"), f"{ID_RANGE}; got ' 1'"),
        (lambda s: s.create("a\x00b"), "title: must not contain NUL (U+0000) at index 1"),
        (
            lambda s: s.create("a\ud800b"),
            "title: must not contain an unpaired surrogate (U+D800) at index 1",
        ),
        (
            lambda s: s.create("ok", "\x00"),
            "description: must not contain NUL (U+0000) at index 0",
        ),
        (
            lambda s: s.update(1, description="ab\udfff"),
            "description: must not contain an unpaired surrogate (U+DFFF) at index 2",
        ),
        (
            lambda s: s.list(status="x" * 1000),
            # Quoted values are cut short: a megabyte of status is not echoed back.
            "xxxxxxxxxx... (1002 characters)",
        ),
    ],
)
async def test_bad_arguments_name_the_argument(
    service: TaskService, call: Callable, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        await call(service)


async def test_integers_written_in_ascii_digits_are_accepted(service: TaskService) -> None:
    task = await service.create("by number")
    assert await service.get(str(task.id)) == task
    assert await service.get(f"{task.id:04d}") == task
    assert await service.get(float(task.id)) == task
    assert (await service.list(limit="1", offset="0")).limit == 1


async def test_unknown_ids_are_not_found(service: TaskService) -> None:
    for call in (service.get, service.complete, service.delete, service.update):
        with pytest.raises(TaskNotFound, match="task_id: no task with id 4242"):
            await call(4242)


async def test_concurrent_writers_lose_nothing(service: TaskService) -> None:
    tasks = await asyncio.gather(*(service.create(f"parallel {n}") for n in range(40)))
    assert len({t.id for t in tasks}) == 40
    await asyncio.gather(*(service.complete(t.id) for t in tasks))
    assert (await service.list(status="done", limit=100)).total == 40


async def test_replicas_starting_together_create_the_schema_once(
    new_database: Callable[[], str],
) -> None:
    url = new_database()
    stores = [PostgresTaskStore(url) for _ in range(6)]
    await asyncio.gather(*(store.open() for store in stores))
    created = await asyncio.gather(
        *(store.create(f"from replica {n}", "", "open") for n, store in enumerate(stores))
    )
    assert len({task.id for task in created}) == 6
    for store in stores:
        await store.close()


async def test_sqlite_file_survives_a_restart(tmp_path: Path) -> None:
    store = make_store(None, tmp_path / "nested" / "dir")
    await store.open()
    task = await TaskService(store).create("persisted")
    await store.close()

    reopened = make_store(None, tmp_path / "nested" / "dir")
    assert (await TaskService(reopened).get(task.id)).title == "persisted"
    await reopened.close()
    assert (tmp_path / "nested" / "dir" / "todo.sqlite3").is_file()


async def test_sqlite_lookups_see_each_commit_but_no_pending_write(tmp_path: Path) -> None:
    """Lookups use a connection of their own on the event loop: no stale snapshot, no wait."""
    store = make_store(None, tmp_path)
    await store.open()
    service = TaskService(store)
    task = await service.create("before")
    writer = sqlite3.connect(tmp_path / "todo.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE todo_tasks SET title = 'after' WHERE id = ?", (task.id,))

    assert (await service.get(task.id)).title == "before"
    writer.execute("COMMIT")
    assert (await service.get(task.id)).title == "after"
    writer.close()
    await store.close()
