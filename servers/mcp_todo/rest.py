"""/tasks: the same operations as the tools, as a JSON REST API for backends."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mcp_todo import arguments
from mcp_todo.arguments import DEFAULT_PAGE_SIZE
from mcp_todo.errors import InvalidArgument, StoreFull, StoreUnavailable, TaskError, TaskNotFound
from mcp_todo.rest_body import MalformedBody, NotJson, json_object
from mcp_todo.service import TaskService

Handler = Callable[[Request], Awaitable[Response]]

STATUS_CODES: dict[type[TaskError], int] = {
    MalformedBody: 400,
    TaskNotFound: 404,
    NotJson: 415,
    # Well-formed, but a field's value is not acceptable.
    InvalidArgument: 422,
    StoreUnavailable: 503,
    StoreFull: 507,
}

TASK_FIELDS = {"title", "description", "status"}


def _json(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def _error(exc: TaskError) -> Response:
    body: dict[str, Any] = {"error": str(exc)}
    if argument := getattr(exc, "argument", None):
        body["argument"] = argument
    # ASCII-escaped: whatever a message quotes, encoding the answer cannot fail.
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=STATUS_CODES[type(exc)],
        media_type="application/json",
    )


def _handles_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except TaskError as exc:
            return _error(exc)

    return wrapped


def task_routes(service: TaskService) -> list[Route]:
    """The /tasks routes, as plain (unauthenticated) Starlette routes.

    Path and query values go to the service as the strings they are: arguments.py decides
    what an id or a page size is, for the tools and these routes alike.
    """

    @_handles_errors
    async def create(request: Request) -> Response:
        body = await json_object(request, TASK_FIELDS)
        if "title" not in body:
            raise InvalidArgument("title", "is required")
        task = await service.create(
            body["title"], body.get("description", ""), body.get("status", "open")
        )
        return _json(task, 201)

    @_handles_errors
    async def list_(request: Request) -> Response:
        query = request.query_params
        page = await service.list(
            query.get("status"), query.get("limit", DEFAULT_PAGE_SIZE), query.get("offset", 0)
        )
        return _json(page)

    @_handles_errors
    async def get(request: Request) -> Response:
        return _json(await service.get(request.path_params["task_id"]))

    @_handles_errors
    async def update(request: Request) -> Response:
        # A bad id is reported before anything about the body, as on the other routes.
        task_id = arguments.task_id(request.path_params["task_id"])
        body = await json_object(request, TASK_FIELDS)
        return _json(await service.update(task_id, **body))

    @_handles_errors
    async def complete(request: Request) -> Response:
        return _json(await service.complete(request.path_params["task_id"]))

    @_handles_errors
    async def delete(request: Request) -> Response:
        await service.delete(request.path_params["task_id"])
        return Response(status_code=204)

    # Each route is named after the tool it mirrors: with MCP_TOOL_GRANTS, the runtime
    # serves it only to tokens whose grants open that tool.
    endpoints: list[tuple[str, Handler, str, str]] = [
        ("/tasks", create, "POST", "create_task"),
        ("/tasks", list_, "GET", "list_tasks"),
        ("/tasks/{task_id}", get, "GET", "get_task"),
        ("/tasks/{task_id}", update, "PATCH", "update_task"),
        ("/tasks/{task_id}/complete", complete, "POST", "complete_task"),
        ("/tasks/{task_id}", delete, "DELETE", "delete_task"),
    ]
    return [
        Route(path, handler, methods=[method], name=tool)
        for path, handler, method, tool in endpoints
    ]
