"""The FastAPI app: /api/tasks, the errors it maps, /health, /ready and /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from mcp_backend_client import BackendClient, BackendUnavailable, Server, ToolRejected
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mcp_todo_backend.api import router
from mcp_todo_backend.settings import BackendSettings

# How the todo server words an unknown id (mcp_todo.errors.TaskNotFound).
_NOT_FOUND = "no task with id"


def create_app(settings: BackendSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = Server(
            name="todo",
            url=settings.todo_url,
            protocol=settings.todo_protocol,
            resilience=settings.resilience,
        )
        async with BackendClient(server) as todo:
            app.state.todo = todo
            yield

    app = FastAPI(title="todo backend", lifespan=lifespan)
    app.include_router(router)

    @app.exception_handler(BackendUnavailable)
    async def unavailable(_: Request, error: BackendUnavailable) -> Response:
        return JSONResponse(
            {"error": f"{error.server} is unavailable, try again later"},
            status_code=503,
            headers={"Retry-After": str(error.retry_after)},
        )

    @app.exception_handler(ToolRejected)
    async def rejected(_: Request, error: ToolRejected) -> Response:
        status = 404 if _NOT_FOUND in error.message else 422
        return JSONResponse({"error": error.message}, status_code=status)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> dict[str, str]:
        # Ready whatever the todo server's state: taken out of the Service, the backend could
        # not tell its callers to retry later, they would get connection errors instead.
        return {"status": "ready", "todo_breaker": request.app.state.todo.breaker_state}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
