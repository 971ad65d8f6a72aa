"""A relayed `tools/call` as one HTTP POST to its upstream (`http1.Http1Connections`).

The MCP SDK's streamable-HTTP client sends a 2026-07-28 `tools/call` as one POST and reads
its answer from that POST's body. Around that it runs a client session, memory streams
between tasks, a dispatcher and an httpx2 client: three quarters of what a call through the
gateway cost its CPU (`bench/gateway.py`). `UpstreamPosts` sends the request the session
would send (its id, its `_meta` envelope and headers, from the session's own stamp) and reads
the answer as the SDK's transport does:

- `application/json`: the JSON-RPC answer; `text/event-stream`: the first answer among the
  events, read with httpx2's SSE parser and the SDK's event size limit. Notifications on the
  stream are dropped: a relayed call's client gets one JSON body, with no room for them.
- 202, a redirect (not followed), an HTTP error status and any other content type fail as the
  SDK fails them (`MCPError` with its codes and words; a JSON-RPC error in an error status's
  body is the upstream's own), but 502, 503 and 504, which say the upstream is not there to
  answer (`connections.UnavailableStatus`).

One difference: an event stream that breaks before the answer is not resumed with a GET
(the SDK does when the upstream numbered its events); the call fails as the upstream being
unavailable. Servers on this runtime answer JSON.

Not httpx2, whose POST cost 0.83-0.93 ms of CPU here, nor aiohttp, which this used next
(0.17-0.18 ms; `http1` says why). Connections are kept alive as `connections.py` keeps
FastMCP's (4 s, less than uvicorn's 5) and carry no cookies: each call's headers are its own
caller's.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx2
import mcp_types
from mcp.client.streamable_http import DEFAULT_MAX_SSE_EVENT_SIZE
from mcp.shared.exceptions import MCPError
from mcp_runtime import json_codec
from pydantic import ValidationError

from mcp_gateway.connections import (
    CONNECT_TIMEOUT_SECONDS,
    IDLE_CONNECTIONS_KEPT,
    IDLE_SECONDS,
    saw_error_status,
)
from mcp_gateway.http1 import Answer, Http1Connections

# The MCP SDK session's request stamp (`mcp_runtime.internals.request_stamp`): puts the
# protocol's `_meta` envelope in a request's params and its headers in the options.
Stamp = Callable[[dict[str, Any], dict[str, Any]], None]

# What the SDK's client sends with every request: httpx2's defaults under its own (the
# encodings are the ones both clients decode).
_BASE_HEADERS = {
    "user-agent": f"python-httpx2/{httpx2.__version__}",
    "accept-encoding": "gzip, deflate",
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
}

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What says how the answer's bytes came: `Answer` has decompressed them already, and httpx2
# would decompress them again (and fail) or count them against the compressed length.
_ENCODED_AS = frozenset({"content-encoding", "content-length"})


class UpstreamPosts:
    """Requests to the upstream at `url` (relayed `tools/call`s, `server/discover`), each
    one POST on a keep-alive connection."""

    def __init__(self, url: str) -> None:
        # As connections.py's pool: no cap, its idle connections and connect timeout (the
        # upstream's `timeout_seconds` bounds the rest of a call).
        self._connections = Http1Connections(
            url,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            keepalive_seconds=IDLE_SECONDS,
            max_idle=IDLE_CONNECTIONS_KEPT,
        )
        # The SDK's session numbers its requests from 1.
        self._ids = itertools.count(1)

    async def request(
        self,
        stamp: Stamp,
        headers: Mapping[str, str],
        method: str,
        params: dict[str, Any],
        *,
        progress: bool = False,
    ) -> dict[str, Any]:
        """The upstream's result for `method` with `params` (as the SDK dumps them), sent
        with the caller's `headers`; raises MCPError as the SDK's session would. With
        `progress`, the request asks for progress as the session does for a call with a
        progress callback (its id is the token)."""
        request_id = next(self._ids)
        data: dict[str, Any] = {"method": method, "params": params}
        options: dict[str, Any] = {}
        stamp(data, options)
        if progress:
            data["params"].setdefault("_meta", {})["progressToken"] = request_id
        body = json_codec.encode({"jsonrpc": "2.0", "id": request_id, **data})
        sent = {**_BASE_HEADERS, **_lower(headers), **_lower(options.get("headers", {}))}
        async with self._connections.post(sent, body) as answer:
            return await _result(answer)

    async def aclose(self) -> None:
        await self._connections.aclose()


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


async def _result(response: Answer) -> dict[str, Any]:
    """The result of the POST's answer, or the MCPError the SDK's transport makes of it."""
    status = response.status
    content_type = response.headers.get("content-type", "").lower()
    if status == 202:
        raise MCPError(
            code=mcp_types.INVALID_REQUEST, message="server answered a request with 202 Accepted"
        )
    if status in _REDIRECTS and (location := response.redirect_target()) is not None:
        raise MCPError(
            code=mcp_types.INVALID_REQUEST,
            message=f"Redirect to {location} not followed; use that URL as the endpoint if it"
            " is the intended server",
        )
    if status >= 400:
        saw_error_status(status)  # 502, 503 and 504 raise UnavailableStatus
        if content_type.startswith("application/json"):
            error = _error_in(await response.read())
            if error is not None:
                raise MCPError.from_error_data(error)
        if status == 404:  # no session in this revision: the method is unknown there
            raise MCPError(code=mcp_types.METHOD_NOT_FOUND, message="Not Found")
        raise MCPError(code=mcp_types.INTERNAL_ERROR, message="Server returned an error response")
    if content_type.startswith("application/json"):
        return _answer(await response.read(), "Failed to parse JSON response")
    if content_type.startswith("text/event-stream"):
        return await _answer_in_events(response)
    raise MCPError(
        code=mcp_types.INVALID_REQUEST, message=f"Unexpected content type: {content_type}"
    )


def _answer(body: bytes | str, failure: str) -> dict[str, Any]:
    """The result in a JSON-RPC answer; its error raised, or PARSE_ERROR for anything else."""
    try:
        message = json_codec.decode(body)
    except ValueError as error:
        raise MCPError(code=mcp_types.PARSE_ERROR, message=f"{failure}: {error}") from None
    if isinstance(message, dict) and message.get("jsonrpc") == "2.0":
        if "error" in message:
            error_data = _error_data(message["error"])
            if error_data is not None:
                raise MCPError.from_error_data(error_data)
        elif isinstance(result := message.get("result"), dict) and "id" in message:
            return result
    raise MCPError(
        code=mcp_types.PARSE_ERROR, message=f"{failure}: not a JSON-RPC answer: {str(body)[:200]}"
    )


def _error_in(body: bytes) -> mcp_types.ErrorData | None:
    try:
        message = json_codec.decode(body)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("jsonrpc") == "2.0" and "error" in message:
        return _error_data(message["error"])
    return None


def _error_data(error: object) -> mcp_types.ErrorData | None:
    try:
        return mcp_types.ErrorData.model_validate(error)
    except ValidationError:
        return None


async def _answer_in_events(response: Answer) -> dict[str, Any]:
    events = httpx2.EventSource(
        httpx2.Response(
            response.status,
            headers=[(k, v) for k, v in response.headers.items() if k not in _ENCODED_AS],
            stream=_Body(response),
            request=httpx2.Request("POST", response.url),
        ),
        max_event_size=DEFAULT_MAX_SSE_EVENT_SIZE,
    )
    try:
        async for event in events:
            if event.event != "message" or not event.data:
                continue
            try:
                message = json_codec.decode(event.data)
            except ValueError:
                message = None
            if isinstance(message, dict) and "method" in message and "id" not in message:
                continue  # a notification: progress or a log line
            return _answer(event.data, "Failed to parse SSE message")
    except httpx2.SSEError as error:
        raise MCPError(
            code=mcp_types.CONNECTION_CLOSED, message=f"SSE stream failed: {error}"
        ) from None
    raise MCPError(code=mcp_types.CONNECTION_CLOSED, message="SSE stream ended without a response")


class _Body(httpx2.AsyncByteStream):
    def __init__(self, answer: Answer) -> None:
        self._answer = answer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._answer.chunks():
            yield chunk
