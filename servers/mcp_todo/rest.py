"""/tasks: the same operations as the tools, as a JSON REST API for backends."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_todo.errors import InvalidArgument, StoreUnavailable, TaskError, TaskNotFound
from mcp_todo.service import DEFAULT_PAGE_SIZE, TaskService

Handler = Callable[[Request], Awaitable[Response]]


class NotJson(TaskError):
    """A request body sent as something other than application/json."""

    argument = "content-type"

    def __init__(self, content_type: str) -> None:
        super().__init__(f"content-type: must be application/json; got {content_type!r}")


STATUS_CODES: dict[type[TaskError], int] = {
    InvalidArgument: 400,
    NotJson: 415,
    TaskNotFound: 404,
    StoreUnavailable: 503,
}


def _json(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


def _error(exc: TaskError) -> Response:
    body: dict[str, Any] = {"error": str(exc)}
    if argument := getattr(exc, "argument", None):
        body["argument"] = argument
    return JSONResponse(body, status_code=STATUS_CODES[type(exc)])


def _handles_errors(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except TaskError as exc:
            return _error(exc)

    return wrapped


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    # Browsers send text/plain cross-site without a CORS preflight; JSON only closes that door.
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise NotJson(content_type)
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument("body", f"must be a JSON object ({exc})") from exc
    if not isinstance(body, dict):
        raise InvalidArgument("body", "must be a JSON object")
    if unknown := sorted(set(body) - allowed):
        raise InvalidArgument(unknown[0], f"unknown field; allowed: {', '.join(sorted(allowed))}")
    return body


def _path_id(request: Request) -> int:
    raw = request.path_params["task_id"]
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument("task_id", f"must be a positive integer; got {raw!r}") from None


def _query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(name, f"must be an integer; got {raw!r}") from None


def task_routes(service: TaskService) -> list[Route]:
    """The /tasks routes, as plain (unauthenticated) Starlette routes."""

    @_handles_errors
    async def create(request: Request) -> Response:
        body = await _body(request, {"title", "description", "status"})
        if "title" not in body:
            raise InvalidArgument("title", "is required")
        task = await service.create(
            body["title"], body.get("description", ""), body.get("status", "open")
        )
        return _json(task, 201)

    @_handles_errors
    async def list_(request: Request) -> Response:
        page = await service.list(
            request.query_params.get("status"),
            _query_int(request, "limit", DEFAULT_PAGE_SIZE),
            _query_int(request, "offset", 0),
        )
        return _json(page)

    @_handles_errors
    async def get(request: Request) -> Response:
        return _json(await service.get(_path_id(request)))

    @_handles_errors
    async def update(request: Request) -> Response:
        task_id = _path_id(request)
        body = await _body(request, {"title", "description", "status"})
        return _json(await service.update(task_id, **body))

    @_handles_errors
    async def complete(request: Request) -> Response:
        return _json(await service.complete(_path_id(request)))

    @_handles_errors
    async def delete(request: Request) -> Response:
        await service.delete(_path_id(request))
        return Response(status_code=204)

    endpoints: list[tuple[str, Handler, str]] = [
        ("/tasks", create, "POST"),
        ("/tasks", list_, "GET"),
        ("/tasks/{task_id}", get, "GET"),
        ("/tasks/{task_id}", update, "PATCH"),
        ("/tasks/{task_id}/complete", complete, "POST"),
        ("/tasks/{task_id}", delete, "DELETE"),
    ]
    return [Route(path, handler, methods=[method]) for path, handler, method in endpoints]
