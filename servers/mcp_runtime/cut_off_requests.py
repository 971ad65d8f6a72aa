"""The answer to a request the stop cut off: 503 naming MCP_DRAIN_TIMEOUT_SECONDS, not
uvicorn's bare 500 and a traceback at ERROR.

A request still running when the drain has timed out (and the few seconds uvicorn then gives
connections to close have passed) is cancelled by uvicorn's shutdown, the one thing that
cancels a request's task (a client leaving cancels only its call, `client_gone`). uvicorn
would answer the cancellation as an application's failure: `500 Internal Server Error` in plain
text, and "Exception in ASGI application" with the CancelledError's traceback in the log.
"""

from __future__ import annotations

import asyncio
import json

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

_log = structlog.get_logger("mcp_runtime.cut_off_requests")

_CUT_OFF = json.dumps(
    {
        "error": "the server stopped before this request ended (it ran past "
        "MCP_DRAIN_TIMEOUT_SECONDS); it may have partly run"
    }
).encode()


async def answer_when_cut_off(
    app: ASGIApp, cycle: RequestResponseCycle, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run `app` for `cycle`'s request; if the stop cancels it, answer 503 (or, its answer
    begun, end the connection) and log `request_cut_off` instead of an application error."""
    try:
        await app(scope, receive, send)
    except asyncio.CancelledError:
        _log.warning(
            "request_cut_off",
            method=scope.get("method"),
            path=scope.get("path"),
            answer_begun=cycle.response_started,
        )
        if cycle.response_started:
            # Half an answer cannot be taken back: the client sees the connection end early.
            cycle.transport.close()
            return
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"%d" % len(_CUT_OFF)),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _CUT_OFF})
