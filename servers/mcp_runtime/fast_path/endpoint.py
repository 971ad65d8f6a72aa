"""The /mcp endpoint's fast path: the hot JSON-RPC requests without the SDK's transports.

FastMCP hands every POST to the MCP SDK's session manager. For a session-based
(2025-11-25) client of a stateless server that builds a transport, memory streams and a
server task per request; for either protocol generation the call then crosses FastMCP's
generic dispatch. `FastPath` sits where FastMCP mounts that manager, so the Host/Origin
guard, authentication and the runtime's drain accounting still run first (or, where only the
guard and the runtime's own layers are there, its front does what they do: front.py), and
serves:

- `tools/call` of both generations through `FastToolCalls`, a 2026-07-28 one cancelled
  when its client closes the connection (client_gone.py);
- every other request and notification of a session-based client on a stateless server
  through the SDK's own single-request kernel (`serve_one`), as the 2026-07-28 entry does.

Each request is checked exactly as the SDK checks it, with the SDK's own functions, and
anything those checks would reject (and anything else unusual: stateful sessions, SSE
responses, oversized bodies, batches, requests FastMCP must resolve itself) goes to the
session manager unchanged, body included, so errors keep the SDK's exact shape. Answers
are written with the SDK's own serializers. The one exception: a request whose id MCP does
not allow gets the runtime's Invalid Request here, as it does in front of the session
manager (request_ids.py), where the SDK would take it for a notification.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextvars import Context
from typing import Any

import pydantic_core
import structlog
from fastmcp.server.dependencies import extract_version_spec
from fastmcp.server.http import StreamableHTTPASGIApp
from mcp.server.runner import ServerRunner, serve_one
from mcp.server.streamable_http import check_accept_headers
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import (
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
    find_invalid_x_mcp_header,
)
from mcp.shared.jsonrpc_dispatcher import (
    handler_exception_to_error_data,
    progress_token_from_params,
)
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    CallToolRequestParams,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    jsonrpc_message_adapter,
)
from mcp_types import methods as spec_methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_runtime.asgi_body import read_body, replay
from mcp_runtime.client_gone import ClientGone, ClientWatch
from mcp_runtime.fast_path.envelope_connections import EnvelopeConnections
from mcp_runtime.fast_path.kept_answers import KeptAnswers
from mcp_runtime.fast_path.private_api import (
    SingleExchangeDispatchContext,
    annotated_positions,
    lifespan_state,
    manager_running,
    mcp_param_rejection,
    to_jsonrpc_response,
    write_reply,
)
from mcp_runtime.fast_path.tool_calls import METHOD, FastToolCalls, ResolvedTool
from mcp_runtime.protocol_generation import session_less
from mcp_runtime.request_ids import has_invalid_id, invalid_id_response

_log = structlog.get_logger("mcp_runtime.fast_path")
# The SDK logs a handler crash on the dispatcher's logger; keep it there.
_dispatcher_log = logging.getLogger("mcp.shared.jsonrpc_dispatcher")

_JSON = "application/json"
# The headers `takes` reads, by their place in what `_headers_taken` returns.
_TAKEN_HEADERS = {
    MCP_PROTOCOL_VERSION_HEADER.lower().encode(): 0,
    b"content-type": 1,
    b"accept": 2,
}
# How many Accept values the SDK's verdicts are kept for.
_ACCEPT_VERDICTS = 64
# How many tool input schemas' `Mcp-Param-*` verdicts are kept for.
_SCHEMA_VERDICTS = 1024
# Set in the scope of a request the fast path read and declined in front of the layers
# (front.py), so that it is not read and declined again behind them.
DECLINED = "mcp_runtime.fast_path.declined"


class FastPath:
    """ASGI app in front of FastMCP's streamable-HTTP endpoint (see the module docstring).

    `sessions` is FastMCP's streamable-HTTP endpoint, whose session manager the fast path
    consults; requests it does not serve go to `endpoint`, which is `sessions` or layers in
    front of it.
    """

    def __init__(
        self, endpoint: ASGIApp, sessions: StreamableHTTPASGIApp, calls: FastToolCalls
    ) -> None:
        self._endpoint = endpoint
        self._sessions = sessions
        self._calls = calls
        self.enabled = False
        self._watch = ClientWatch()
        # Input schemas (kept, so their ids stay theirs) and whether they declare no header; a
        # relay's tools get new schemas with each listing, so the old ones are let go in time.
        self._header_free_schemas: KeptAnswers[int, tuple[object, bool]] = KeptAnswers(
            _SCHEMA_VERDICTS
        )
        self._json_accepted: KeptAnswers[str, bool] = KeptAnswers(_ACCEPT_VERDICTS)
        self._connections = EnvelopeConnections()

    async def start(self) -> None:
        """Turn the fast path on once the server is running, if the server allows it."""
        if (reason := self._calls.unsupported_reason()) is not None:
            _log.info("fast_path_disabled", reason=reason)
            return
        await self._calls.resolve_tools()
        self.enabled = True
        _log.info("fast_path_enabled", tools=self._calls.tool_count)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.takes(scope):
            await self._endpoint(scope, receive, send)
            return
        manager = self._sessions.session_manager
        assert manager is not None
        received, body = await read_body(receive, manager.max_request_body_size)
        replayed = replay(received, receive)
        if body is None or not await self.serve(scope, replayed, body, send):
            await self._endpoint(scope, replayed, send)

    def takes(self, scope: Scope) -> bool:
        """Whether the fast path may serve this /mcp request, from what is known before its
        body: a POST of JSON from a client accepting JSON, of a protocol version the fast
        path serves, to a running manager answering in plain JSON."""
        manager = self._sessions.session_manager
        if not (self.enabled and scope["method"] == "POST" and _plain_json(manager)):
            return False
        if scope.get(DECLINED):
            return False
        assert manager is not None
        version, content_type, accept = _headers_taken(scope)
        modern = session_less(version)
        if (modern and version not in MODERN_PROTOCOL_VERSIONS) or not (
            modern or manager.stateless
        ):
            return False
        # What both generations check first: a JSON body, and a client accepting JSON.
        return content_type.lower().startswith(_JSON) and self._accepts_json(accept)

    def _accepts_json(self, accept: str) -> bool:
        """The SDK's verdict on an Accept header (`check_accept_headers`), asked once per
        value (a client sends the same one every time), for at most _ACCEPT_VERDICTS values."""
        verdict = self._json_accepted.get(accept)
        if verdict is None:
            scope = {"type": "http", "headers": [(b"accept", accept.encode("latin-1"))]}
            verdict, _ = check_accept_headers(Request(scope))
            self._json_accepted.keep(accept, verdict)
        return verdict

    async def serve(self, scope: Scope, receive: Receive, body: bytes, send: Send) -> bool:
        """Serve the request `takes` took, whose whole `body` was read (`receive` replays
        it); False, having sent nothing, for one to hand on to the endpoint."""
        manager = self._sessions.session_manager
        assert manager is not None
        request = Request(scope, receive)
        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if session_less(version):
            return await self._serve_modern(request, body, manager, send)
        return await self._serve_handshake_era(request, body, version, manager, send)

    async def _serve_modern(
        self, request: Request, body: bytes, manager: StreamableHTTPSessionManager, send: Send
    ) -> bool:
        """A 2026-07-28 `tools/call`, checked as `handle_modern_request` checks it."""
        try:
            # pydantic's parser, as for the handshake era: 1.9 µs against 4.9 for `json.loads`.
            # What it refuses and `json.loads` takes (a UTF-16 body, a lone surrogate, nesting
            # past 200) goes the slow way, to the SDK's own parser; it takes nothing that
            # `json.loads` refuses (tests/runtime/test_runtime_fast_path.py).
            decoded = pydantic_core.from_json(body)
        except ValueError:
            return False
        if has_invalid_id(decoded):
            await _answer(invalid_id_response(), request, send)
            return True
        if not (isinstance(decoded, dict) and "id" in decoded and decoded.get("method") == METHOD):
            return False
        try:
            req = JSONRPCRequest.model_validate(decoded)
        except ValidationError:
            return False
        headers = request.headers.items()  # decoded once for both checks
        if find_duplicated_routing_header(headers) is not None:
            return False
        verdict = classify_inbound_request(decoded, headers=_first_values(headers))
        if isinstance(verdict, InboundLadderRejection):
            return False
        state = lifespan_state(manager)
        if self._may_reject_param_headers(manager, req) and await mcp_param_rejection(
            manager.app, request, req, verdict, state
        ):
            return False
        prepared = await self._prepared_call(req.params, verdict.protocol_version)
        if prepared is None:
            return False
        connection = self._connections.connection(
            verdict.protocol_version, verdict.client_info, verdict.client_capabilities
        )
        dctx = SingleExchangeDispatchContext(
            transport=TransportContext(
                kind="streamable-http", can_send_request=False, headers=request.headers
            ),
            request_id=req.id,
            message_metadata=ServerMessageMetadata(request_context=request),
            progress_token=progress_token_from_params(req.params),
        )
        assert req.params is not None
        try:
            reply = await self._watch.unless_client_leaves(
                request.receive,
                to_jsonrpc_response(
                    req.id, self._calls.call(dctx, connection, state, req.params, *prepared)
                ),
            )
        except ClientGone:
            return True  # no one to answer
        if isinstance(reply, JSONRPCError):
            # Errors carry the HTTP status the SDK maps their code to.
            await write_reply(reply, request.scope, request.receive, send)
        else:
            # The JSON value `_write` produces, serialized once instead of dumped and encoded
            # (non-ASCII text as UTF-8 where `_write` escapes it: the same once parsed).
            body = reply.model_dump_json(by_alias=True, exclude_none=True)
            await _answer(Response(body, media_type=_JSON), request, send)
        return True

    async def _serve_handshake_era(
        self,
        request: Request,
        body: bytes,
        version: str | None,
        manager: StreamableHTTPSessionManager,
        send: Send,
    ) -> bool:
        """A session-based client's POST to a stateless server, as the SDK's stateless
        transport would answer it: one JSON-RPC message in, one JSON answer out."""
        if not _is_json_content_type(request.headers.get("content-type", "")):
            return False
        try:
            decoded = pydantic_core.from_json(body)
        except ValueError:
            return False
        # The SDK would take such a request for a notification: 202, and no answer ever.
        if has_invalid_id(decoded):
            await _answer(invalid_id_response(), request, send)
            return True
        try:
            message = jsonrpc_message_adapter.validate_python(decoded, by_name=False)
        except ValueError:  # pydantic's ValidationError is a ValueError too
            return False
        if not isinstance(message, JSONRPCRequest | JSONRPCNotification):
            return False
        connection = self._connections.connection(version or DEFAULT_NEGOTIATED_VERSION, None, None)
        request_id = message.id if isinstance(message, JSONRPCRequest) else None
        dctx = SingleExchangeDispatchContext(
            transport=TransportContext(kind="streamable-http", can_send_request=False),
            request_id=request_id,
            message_metadata=ServerMessageMetadata(request_context=request, can_send_request=False),
            progress_token=progress_token_from_params(message.params),
        )
        lowlevel = manager.app
        state = lifespan_state(manager)
        if isinstance(message, JSONRPCNotification):
            await _answer(
                Response(None, status_code=202, headers={"Content-Type": _JSON}), request, send
            )
            runner = ServerRunner(lowlevel, connection, state)
            try:
                await runner.on_notify(dctx, message.method, message.params)
            except Exception:
                _dispatcher_log.exception("notification handler for %r raised", message.method)
            return True
        assert isinstance(message, JSONRPCRequest)
        prepared = None
        if message.method == METHOD:
            prepared = await self._prepared_call(message.params, connection.protocol_version)
        try:
            if prepared is not None:
                assert message.params is not None
                result = await self._calls.call(dctx, connection, state, message.params, *prepared)
            else:
                result = await serve_one(
                    lowlevel,
                    dctx,
                    message.method,
                    message.params,
                    connection=connection,
                    lifespan_state=state,
                )
            reply: JSONRPCResponse | JSONRPCError = JSONRPCResponse(
                jsonrpc="2.0", id=message.id, result=result
            )
        except Exception as exc:
            error = handler_exception_to_error_data(exc)
            if error is None:
                _dispatcher_log.exception("handler for %r raised", message.method)
                error = ErrorData(code=0, message=str(exc))
            reply = JSONRPCError(jsonrpc="2.0", id=message.id, error=error)
        response = Response(
            reply.model_dump_json(by_alias=True, exclude_unset=True),
            status_code=200,
            headers={"Content-Type": _JSON},
        )
        await _answer(response, request, send)
        return True

    def _may_reject_param_headers(
        self, manager: StreamableHTTPSessionManager, req: JSONRPCRequest
    ) -> bool:
        """False when the SDK's `Mcp-Param-*` check cannot reject this call: the called
        tool's input schema declares no header (the SDK validates only declared ones)."""
        lookup = manager.app.get_tool_input_schema
        name = (req.params or {}).get("name")
        if lookup is None or not isinstance(name, str):
            return True
        schema = lookup(name)
        if schema is None:
            return False
        cached = self._header_free_schemas.get(id(schema))
        if cached is None or cached[0] is not schema:
            header_free = (
                find_invalid_x_mcp_header(schema) is not None
                or next(annotated_positions(schema), None) is None
            )
            cached = self._header_free_schemas.keep(id(schema), (schema, header_free))
        return not cached[1]

    async def _prepared_call(
        self, params: Mapping[str, Any] | None, version: str
    ) -> tuple[CallToolRequestParams, ResolvedTool] | None:
        """The checks the SDK runs before FastMCP's handler, plus what FastMCP would have to
        resolve itself; None sends the call the slow way, where it gets the exact answer."""
        if not isinstance(params, Mapping) or params.get("requestState") is not None:
            return None
        try:
            spec_methods.validate_client_request(METHOD, version, params)
            typed = CallToolRequestParams.model_validate(params, by_name=False)
        except (KeyError, ValidationError):
            return None
        meta = params.get("_meta")
        if isinstance(meta, Mapping) and extract_version_spec(dict(meta)) is not None:
            return None
        resolved = self._calls.tool_for(typed.name)
        if resolved is None:
            if self._calls.stale:
                # The server's lookup, not this caller's: outside the request's context, so
                # that a relay's listings carry neither the caller's trace context (a span in
                # the caller's trace) nor its headers (a gateway's upstreams listed with them).
                await asyncio.create_task(self._calls.resolve_tools(), context=Context())
            return None
        return typed, resolved


def _plain_json(manager: StreamableHTTPSessionManager | None) -> bool:
    """Whether the manager is running and answers in plain JSON, as the fast path does."""
    return (
        manager is not None
        and manager_running(manager)
        and manager.json_response
        and not (
            manager.security_settings is not None
            and manager.security_settings.enable_dns_rebinding_protection
        )
    )


def _headers_taken(scope: Scope) -> tuple[str | None, str, str]:
    """The request's MCP-Protocol-Version (None without one), Content-Type and Accept ("" without
    them), each the first of its name, as Starlette's `Headers.get` reads them, in one pass."""
    found: list[bytes | None] = [None, None, None]
    for name, value in scope["headers"]:
        index = _TAKEN_HEADERS.get(name)
        if index is not None and found[index] is None:
            found[index] = value
    version, content_type, accept = found
    return (
        version.decode("latin-1") if version is not None else None,
        content_type.decode("latin-1") if content_type is not None else "",
        accept.decode("latin-1") if accept is not None else "",
    )


def _first_values(headers: list[tuple[str, str]]) -> dict[str, str]:
    """`dict(Headers)` from its `items()`: each name's first value, in one pass."""
    folded: dict[str, str] = {}
    for name, value in headers:
        folded.setdefault(name, value)
    return folded


def _is_json_content_type(content_type: str) -> bool:
    # The session-based transport's own test, stricter than the security check's prefix.
    return any(part.strip() == _JSON for part in content_type.split(";")[0].split(","))


async def _answer(response: Response, request: Request, send: Send) -> None:
    await response(request.scope, request.receive, send)
