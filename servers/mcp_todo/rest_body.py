"""Reading a /tasks request body: JSON objects only, and any body answered with a 4xx."""

import json
from typing import Any

from starlette.requests import Request

from mcp_todo.arguments import shown
from mcp_todo.errors import InvalidArgument, TaskError


class NotJson(TaskError):
    """A request body sent as something other than application/json."""

    argument = "content-type"

    def __init__(self, content_type: str) -> None:
        super().__init__(f"content-type: must be application/json; got {content_type!r}")


class MalformedBody(TaskError):
    """A body that is not one JSON object; unlike InvalidArgument, no field to blame."""

    argument = "body"

    def __init__(self, problem: str) -> None:
        super().__init__(f"body: {problem}")


async def json_object(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The body as a dict with no key outside `allowed`."""
    # Browsers send text/plain cross-site without a CORS preflight; JSON only closes that door.
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise NotJson(content_type)
    body = _parse(await request.body())
    if not isinstance(body, dict):
        raise MalformedBody("must be a JSON object")
    if unknown := sorted(set(body) - allowed):
        raise InvalidArgument(
            _field_name(unknown[0]), f"unknown field; allowed: {', '.join(sorted(allowed))}"
        )
    return body


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        # Python's parser recurses once per [ or {; a few thousand of them exhaust the stack.
        raise MalformedBody("nested too deeply to parse; must be a JSON object") from None
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"must be a JSON object ({exc})") from None
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"must be a JSON object in UTF-8 ({exc.reason})") from None
    except ValueError:
        # What else json.loads raises: an integer of more digits than int() converts.
        raise MalformedBody("must be a JSON object (a number in it is too long)") from None


def _field_name(key: str) -> str:
    # The name goes back in the error, where a lone surrogate could not be encoded.
    return key if key.isprintable() and len(key) <= 40 else shown(key)
