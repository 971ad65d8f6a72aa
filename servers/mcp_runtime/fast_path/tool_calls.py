"""A `tools/call` run straight against the FastMCP server's registered or relayed tools.

Behind the HTTP transport the MCP SDK and FastMCP take about 2 ms of CPU per trivial call,
most of it in generic plumbing: a middleware chain that only our observer uses, a tool
lookup through every provider and transform, and session bookkeeping. `FastToolCalls`
does the same steps for one call, in the same order and with the same objects, minus that
plumbing:

- SDK `ServerRunner._on_request`: the request context (`_make_context`), FastMCP's root
  middleware (shared context, request-context binding, seam span, interior flag), the
  request-state boundary, and the wire shaping (`_serialize`);
- FastMCP `_on_call_tool` and `call_tool`: the client-call markers, `Context`, the
  server span, the tool's own `_run` (argument validation with the tool's pydantic model,
  execution, result conversion), and FastMCP's error handling and masking, which
  `call_errors.run_as_fastmcp` reproduces line for line.

The tools of a server's tool relay (the bridge's: `mcp_runtime.tool_relay`) run in another
process, so nothing here can tell those steps apart from their outcome: their calls go to
`RelayedCalls`, which skips them, unless someone could observe FastMCP's spans.

It serves only what it can serve identically and says so up front (`unsupported_reason`,
`tool_for`): FastMCP middleware other than pass-through ones, extensions, cache hints or a
lookup that transforms, providers other than the relay or component auth could change send
calls back to FastMCP.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

from fastmcp import FastMCP
from fastmcp.exceptions import DisabledError, FastMCPError, NotFoundError
from fastmcp.server.context import Context
from fastmcp.server.dependencies import bind_request_context
from fastmcp.server.low_level import FastMCPServerMiddleware, LowLevelServer
from fastmcp.server.middleware import Middleware
from fastmcp.server.middleware.middleware import mark_interior_dispatched
from fastmcp.server.telemetry import server_span
from fastmcp.server.transforms.visibility import Visibility
from fastmcp.telemetry import TRACE_PARENT_KEY, TRACE_STATE_KEY
from fastmcp.tools.base import (
    InputRequiredToolResult,
    RawStructuredToolResult,
    Tool,
    ToolResult,
)
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.request_state import RequestStateBoundary
from mcp.server.runner import ServerRunner, aclose_shielded
from mcp.shared.dispatcher import DispatchContext
from mcp.shared.exceptions import MCPError
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from opentelemetry import trace

from mcp_runtime.fast_path import private_api as private
from mcp_runtime.fast_path.call_errors import run_as_fastmcp
from mcp_runtime.fast_path.relayed_calls import RelayedCalls
from mcp_runtime.operation_metrics import OperationMetrics
from mcp_runtime.tool_events import ToolCallEvents, ToolCallObserver
from mcp_runtime.tool_grants import ToolAuthorization
from mcp_runtime.tool_relay import ToolRelay

METHOD = "tools/call"

# Hooks a FastMCP middleware overrides when it acts on tools/call; one overriding none of
# them only passes the call on (FastMCP's default DereferenceRefsMiddleware is one).
_TOOL_CALL_HOOKS = ("__call__", "_dispatch_handler", "on_message", "on_request", "on_call_tool")


class ResolvedTool(NamedTuple):
    """A tool as FastMCP's lookup returned it, and the server's component or the relay's
    tool it came from."""

    tool: Tool
    source: object
    relayed: bool


class FastToolCalls:
    """Serves `tools/call` for one FastMCP server the way FastMCP would, without its plumbing."""

    def __init__(
        self,
        mcp: FastMCP,
        events: ToolCallEvents,
        relay: ToolRelay | None,
        authorization: ToolAuthorization | None = None,
    ) -> None:
        self._mcp = mcp
        self._events = events
        self._relay = relay
        self._authorization = authorization
        self._relayed_calls = (
            None if relay is None else RelayedCalls(mcp, events, relay, authorization)
        )
        self._tools: dict[str, ResolvedTool] = {}
        # The relay's tools when last resolved; the relay replaces the mapping on a change.
        self._relayed_tools: Mapping[str, Tool] = {}
        self._fingerprint: tuple[object, ...] | None = None
        self.stale = True

    def unsupported_reason(self) -> str | None:
        """Why this server's calls cannot take the fast path, or None when they can."""
        lowlevel = private.lowlevel_server(self._mcp)
        if not isinstance(lowlevel, LowLevelServer):
            return "unexpected low-level server"
        if [type(m) for m in lowlevel.middleware] != [
            OperationMetrics,
            FastMCPServerMiddleware,
            RequestStateBoundary,
        ]:
            return "low-level server middleware"
        entry = lowlevel.get_request_handler(METHOD)
        if entry is None or entry.handler != private.call_tool_handler(self._mcp):
            return "tools/call handler"
        if METHOD in lowlevel.cache_hints:
            return "tools/call cache hints"
        if private.extensions(self._mcp):
            return "server extensions"
        for middleware in self._mcp.middleware:
            # The runtime's own: `call` does what they do.
            if isinstance(middleware, ToolCallObserver) or middleware is self._authorization:
                continue
            if any(_overrides(middleware, hook) for hook in _TOOL_CALL_HOOKS):
                return f"middleware {type(middleware).__name__}"
        return None

    async def resolve_tools(self) -> None:
        """Look every tool up once through FastMCP; `tool_for` reuses them while that holds.

        A server that has since gained something the fast path cannot mirror (middleware
        acting on calls, say) gets no tools here, so FastMCP serves all its calls.
        """
        self._relayed_tools = relayed = {} if self._relay is None else self._relay.relayed_tools
        self._fingerprint = self._lookup_fingerprint()
        self._tools = {}
        self.stale = False
        if self._fingerprint is None or self.unsupported_reason() is not None:
            return
        components = private.local_components(self._mcp)
        for listed in await self._mcp.list_tools(run_middleware=False):
            tool = await self._mcp.get_tool(listed.name)
            if tool is None or tool.auth is not None:
                continue
            # The lookup may return a copy marked by a visibility rule, never another tool.
            # A name both the server and the relay have is left to FastMCP to settle.
            registered = components.get(tool.key)
            own = relayed.get(tool.name)
            if registered is not None and own is None and registered.name == tool.name:
                self._tools[tool.name] = ResolvedTool(tool, registered, relayed=False)
            elif own is not None and registered is None and own.key == tool.key:
                self._tools[tool.name] = ResolvedTool(tool, own, relayed=True)

    @property
    def tool_count(self) -> int:
        """How many tools `tool_for` can currently answer for."""
        return len(self._tools)

    def tool_for(self, name: str) -> ResolvedTool | None:
        """The tool FastMCP's lookup would return for `name`, or None if that is not certain.

        Once anything the lookup depends on has changed, `stale` is set until the next
        `resolve_tools`.
        """
        relay = self._relay
        if self._lookup_fingerprint() != self._fingerprint or (
            relay is not None and relay.relayed_tools is not self._relayed_tools
        ):
            self.stale = True
            return None
        found = self._tools.get(name)
        if found is None:
            return None
        if not found.relayed and (
            private.local_components(self._mcp).get(found.tool.key) is not found.source
        ):
            return None
        return found

    def _lookup_fingerprint(self) -> tuple[object, ...] | None:
        """Everything the tool lookup and `unsupported_reason` depend on beyond the request,
        or None if more does.

        Session visibility rules need a session, which the stateless requests served here
        never have; component auth is excluded per tool.
        """
        mcp = self._mcp
        relay = self._relay
        if not private.provides_only(mcp, *(() if relay is None else (relay,))):
            return None
        server_transforms = private.server_transforms(mcp)
        provider_transforms = [
            *private.provider_transforms(mcp),
            *(() if relay is None else relay.transforms),
        ]
        transforms = [*server_transforms, *provider_transforms]
        if not all(isinstance(transform, Visibility) for transform in transforms):
            return None
        lowlevel = private.lowlevel_server(mcp)
        return (
            len(server_transforms),
            len(provider_transforms),
            len(private.local_components(mcp)),
            len(mcp.middleware),
            len(private.extensions(mcp)),
            len(lowlevel.middleware),
            len(lowlevel.cache_hints),
        )

    async def call(
        self,
        dctx: DispatchContext[TransportContext],
        connection: Connection,
        lifespan_state: Any,
        params: Mapping[str, Any],
        typed: CallToolRequestParams,
        resolved: ResolvedTool,
    ) -> dict[str, Any]:
        """The result dict `ServerRunner._on_request` would produce; raises as it would."""
        mcp = self._mcp
        lowlevel = private.lowlevel_server(mcp)
        operations, root, boundary = lowlevel.middleware
        assert isinstance(operations, OperationMetrics)
        assert isinstance(root, FastMCPServerMiddleware)
        with operations.observe(METHOD):
            runner = ServerRunner(lowlevel, connection, lifespan_state)
            version = connection.protocol_version
            traced = _spans_observable(params)
            tool = resolved.tool
            try:
                if resolved.relayed and not traced:
                    assert self._relayed_calls is not None
                    relayed = await self._relayed_calls.call(typed, tool, version)
                    return private.serialize_result(runner, METHOD, version, relayed)
                ctx = private.make_context(runner, dctx, METHOD, params, version)

                async def handle(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
                    result = await self._on_call_tool(ctx, typed, tool, traced)
                    return private.serialize_result(runner, METHOD, version, result)

                seam_span: AbstractContextManager[object] = (
                    private.seam_span(root, mcp, ctx) if traced else nullcontext()
                )
                with private.apply_shared_context(root, mcp), bind_request_context(ctx), seam_span:
                    interior = private.interior_dispatched.set(False)
                    try:
                        result = await boundary(ctx, handle)
                    finally:
                        private.interior_dispatched.reset(interior)
                return private.dump_result(result)
            finally:
                # Nothing registers cleanup on a one-call connection; unwinding an empty stack
                # under a shielded cancel scope would cost more than the rest of the call.
                if connection.exit_stack._exit_callbacks:
                    await aclose_shielded(connection)

    async def _on_call_tool(
        self,
        ctx: ServerRequestContext[Any, Any],
        params: CallToolRequestParams,
        tool: Tool,
        traced: bool,
    ) -> Any:
        """FastMCP's `_on_call_tool`, for a call without a component version."""
        with bind_request_context(ctx):
            key = params.name
            arguments = params.arguments or {}
            private.operations_logger.debug(
                f"[{self._mcp.name}] Handler called: call_tool %s with %s", key, arguments
            )
            try:
                with private.serving_client_tool_call():
                    result = await self._call_tool(key, arguments, tool, traced)
            except (DisabledError, NotFoundError):
                return CallToolResult(
                    content=[TextContent(type="text", text=f"Unknown tool: {key!r}")],
                    is_error=True,
                )
            except FastMCPError as e:
                return CallToolResult(
                    content=[TextContent(type="text", text=str(e))], is_error=True
                )
            if not isinstance(result, ToolResult):
                return result
            if isinstance(result, InputRequiredToolResult):
                if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                    raise MCPError(
                        code=INVALID_PARAMS,
                        message=(
                            f"Tool {key!r} returned an InputRequiredResult to request "
                            "client input, but the multi-round-trip result type "
                            "(SEP-2322) only exists at MCP 2026-07-28; this connection "
                            f"negotiated {ctx.protocol_version!r}. Use ctx.elicit() for "
                            "server-initiated input on handshake-era connections."
                        ),
                    )
                return result.input_required
            # Legacy clients get structured content that is not an object under the
            # `result` wrapper FastMCP advertises for it (FastMCP 4.2's `_on_call_tool`).
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                result = _wrapped_for_legacy_clients(result)
            return private.normalize_call_tool_result(result.to_mcp_result())

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], tool: Tool, traced: bool
    ) -> Any:
        """FastMCP's `call_tool` with its middleware chain, of which only our observer acts."""
        mcp = self._mcp
        async with Context(fastmcp=mcp):
            with private.dispatching_tool_call(), private.extension_tool_call_scope(mcp):
                mark_interior_dispatched()
                phase = private.dispatch_phase.set("all")
                try:
                    with self._events.observe(name) as call:
                        if self._authorization is not None:
                            await self._authorization.check_call(tool)
                        result = await self._run_tool(name, arguments, tool, traced)
                        call.returned(result.is_error)
                finally:
                    private.dispatch_phase.reset(phase)
            return await private.rebind_prefab_tool_names(mcp, result)

    async def _run_tool(
        self, name: str, arguments: dict[str, Any], tool: Tool, traced: bool
    ) -> ToolResult:
        """FastMCP's `call_tool(run_middleware=False)` once the lookup has found `tool`."""
        mcp = self._mcp
        async with Context(fastmcp=mcp):
            span: AbstractContextManager[trace.Span] = (
                server_span(f"tools/call {name}", METHOD, mcp.name, "tool", name, tool_name=name)
                if traced
                else nullcontext(trace.INVALID_SPAN)
            )
            with span as active_span:
                if traced:
                    active_span.set_attributes(tool.get_span_attributes())
                return await run_as_fastmcp(mcp, name, private.run_tool(tool, arguments or {}))


def _spans_observable(params: Mapping[str, Any]) -> bool:
    """Whether FastMCP's spans for this call could make a difference to anyone.

    Without an OpenTelemetry SDK (the API's proxy provider) they are no-op spans; their
    one effect is to carry a trace context the client put in `_meta` into the tool.
    """
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True
    meta = params.get("_meta")
    return isinstance(meta, Mapping) and (TRACE_PARENT_KEY in meta or TRACE_STATE_KEY in meta)


def _overrides(middleware: Middleware, hook: str) -> bool:
    return getattr(type(middleware), hook) is not getattr(Middleware, hook)


def _wrapped_for_legacy_clients(result: ToolResult) -> ToolResult:
    """FastMCP 4.2's wrapping of a non-object structured result for a handshake-era client."""
    if not (
        isinstance(result, RawStructuredToolResult)
        or (
            result.structured_content is not None
            and not isinstance(result.structured_content, dict)
        )
    ):
        return result
    fastmcp_meta = result.meta.get("fastmcp") if result.meta else None
    if isinstance(fastmcp_meta, dict) and fastmcp_meta.get("wrap_result") is True:
        return result
    meta = dict(result.meta or {})
    meta["fastmcp"] = {
        **(fastmcp_meta if isinstance(fastmcp_meta, dict) else {}),
        "wrap_result": True,
    }
    return ToolResult(
        content=result.content,
        structured_content={"result": result.structured_content},
        meta=meta,
        is_error=result.is_error,
    )
