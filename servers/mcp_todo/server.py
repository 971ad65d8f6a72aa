"""Build the todo server from settings: one task service behind MCP tools and /tasks."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastmcp import FastMCP
from mcp_runtime import PACKAGE_VERSION, RuntimeSettings, ServerSpec

from mcp_todo.errors import StoreFull, StoreUnavailable
from mcp_todo.rest import task_routes
from mcp_todo.service import TaskService
from mcp_todo.store import make_store
from mcp_todo.tools import register_tools

log = structlog.get_logger(__name__)

INSTRUCTIONS = (
    "A shared task list. Create tasks, list them by status (open, in_progress, done) a page "
    "at a time, update or complete them by id, and delete them."
)


def create(settings: RuntimeSettings) -> ServerSpec:
    database_url = str(settings.database_url) if settings.database_url else None
    store = make_store(database_url, settings.mcp_data_dir)
    service = TaskService(store)
    mcp = FastMCP("todo", instructions=INSTRUCTIONS, version=PACKAGE_VERSION)
    register_tools(mcp, service)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            await store.open()
        except (StoreUnavailable, StoreFull) as exc:
            # Serve anyway: /ready stays 503 and the store connects once the database is back.
            log.warning("todo_store_unavailable_at_start", error=str(exc))
        try:
            yield
        finally:
            await store.close()

    # The function names are what /ready reports when a check fails.
    async def database_reachable() -> None:
        await store.ping()

    # A full disk or a read-only file leaves reads working; without this check /ready
    # said 200 while every write failed.
    async def database_writable() -> None:
        await store.check_writable()

    return ServerSpec(
        mcp=mcp,
        readiness_checks=[database_reachable, database_writable],
        # /tasks carries the same data as the tools, so it takes the same credentials as /mcp.
        protected_routes=task_routes(service),
        lifespan=lifespan,
    )
