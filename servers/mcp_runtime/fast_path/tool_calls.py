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

The tools of a server's tool relays (the bridge's child, the gateway's upstreams:
`mcp_runtime.tool_relay`) run in another process, so nothing here can tell those steps apart
from their outcome: their calls go to `RelayedCalls`, which skips them, unless someone could
observe FastMCP's spans or the relay does not carry the client's protocol version.

It serves only what it can serve identically and says so up front (`unsupported_reason`,
`tool_for`): FastMCP middleware other than pass-through ones, extensions, cache hints or a
lookup that transforms (beyond the relays' namespaces), providers other than the relays or
component auth could change send calls back to FastMCP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from mcp.server.runner import aclose_shielded
from mcp.shared.dispatcher import DispatchContext
from mcp.shared.transport_context import TransportContext
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    TextContent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from opentelemetry import trace

from mcp_runtime.fast_path import private_api as private
from mcp_runtime.fast_path.call_errors import input_required_before_2026, run_as_fastmcp
from mcp_runtime.fast_path.relayed_calls import RelayedCalls, is_input_required
from mcp_runtime.fast_path.tool_results import serialized_once
from mcp_runtime.operation_metrics import OperationMetrics
from mcp_runtime.tool_events import ToolCallEvents, ToolCallObserver
from mcp_runtime.tool_grants import ToolAuthorization
from mcp_runtime.tool_relay import ToolRelay

METHOD = "tools/call"

# Hooks a FastMCP middleware overrides when it acts on tools/call; one overriding none of
# them only passes the call on (FastMCP's default DereferenceRefsMiddleware is one).
_TOOL_CALL_HOOKS = ("__call__", "_dispatch_handler", "on_message", "on_request", "on_call_tool")


class ResolvedTool(NamedTuple):
    """A tool as FastMCP's lookup returned it, the server's component or the relay's tool it
    came from, and for a relay's, the relay and the tool's name there (before the namespace);
    `runs` is what runs its calls when not `tool` itself (tool_results.py)."""

    tool: Tool
    source: object
    relay: ToolRelay | None = None
    relayed_name: str = ""
    runs: Tool | None = None


class FastToolCalls:
    """Serves `tools/call` for one FastMCP server the way FastMCP would, without its plumbing."""

    def __init__(
        self,
        mcp: FastMCP,
        events: ToolCallEvents,
        relays: Sequence[ToolRelay] = (),
        authorization: ToolAuthorization | None = None,
    ) -> None:
        self._mcp = mcp
        self._events = events
        self._relays = tuple(relays)
        self._authorization = authorization
        self._relayed_calls = RelayedCalls(mcp, events, authorization) if relays else None
        self._tools: dict[str, ResolvedTool] = {}
        # The relays' tools when last resolved; a relay replaces its mapping on a change.
        self._relayed_tools: tuple[Mapping[str, Tool], ...] = ()
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
        self._relayed_tools = tuple(relay.relayed_tools for relay in self._relays)
        self._fingerprint = fingerprint = self._lookup_fingerprint()
        self._tools = {}
        self.stale = False
        if fingerprint is None or self.unsupported_reason() is not None:
            return
        namespaces = private.relay_namespaces(self._mcp, self._relays) or ()
        components = private.local_components(self._mcp)
        for listed in await self._mcp.list_tools(run_middleware=False):
            tool = await self._mcp.get_tool(listed.name)
            if tool is None or tool.auth is not None:
                continue
            # The lookup may return a copy marked by a visibility rule or renamed by a
            # relay's namespace, never another tool. A name that the server and a relay,
            # or two relays, could all answer for is left to FastMCP to settle.
            registered = components.get(tool.key)
            claims = [
                ResolvedTool(tool, own, relay, name)
                for relay, tools, namespace in zip(
                    self._relays, self._relayed_tools, namespaces, strict=True
                )
                if (name := _without_namespace(tool.name, namespace)) is not None
                and (own := tools.get(name)) is not None
                and own.version == tool.version
            ]
            if registered is not None and not claims and registered.name == tool.name:
                self._tools[tool.name] = ResolvedTool(tool, registered, runs=serialized_once(tool))
            elif registered is None and len(claims) == 1:
                self._tools[tool.name] = claims[0]

    @property
    def tool_count(self) -> int:
        """How many tools `tool_for` can currently answer for."""
        return len(self._tools)

    def tool_for(self, name: str) -> ResolvedTool | None:
        """The tool FastMCP's lookup would return for `name`, or None if that is not certain.

        Once anything the lookup depends on has changed, `stale` is set until the next
        `resolve_tools`.
        """
        if self._lookup_fingerprint() != self._fingerprint or any(
            relay.relayed_tools is not tools
            for relay, tools in zip(self._relays, self._relayed_tools, strict=True)
        ):
            self.stale = True
            return None
        found = self._tools.get(name)
        if found is None:
            return None
        if found.relay is None and (
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
        namespaces = private.relay_namespaces(mcp, self._relays)
        if namespaces is None:
            return None
        server_transforms = private.server_transforms(mcp)
        provider_transforms = [
            *private.provider_transforms(mcp),
            *(transform for relay in self._relays for transform in relay.transforms),
        ]
        transforms = [*server_transforms, *provider_transforms]
        if not all(isinstance(transform, Visibility) for transform in transforms):
            return None
        lowlevel = private.lowlevel_server(mcp)
        return (
            namespaces,
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
            runner = private.StampCopyingRunner(lowlevel, connection, lifespan_state)
            version = connection.protocol_version
            traced = _spans_observable(params)
            tool = resolved.tool
            try:
                relay = resolved.relay
                relayed = None
                if relay is not None and not traced and relay.relays_for(version):
                    assert self._relayed_calls is not None
                    relayed = await self._relayed_calls.call(
                        typed, tool, relay, resolved.relayed_name, version
                    )
                    if not is_input_required(relayed):
                        return private.serialize_result(runner, METHOD, version, relayed)
                    # An ask for input: its request state is sealed on the way out, by the
                    # boundary below, as on FastMCP's way.
                ctx = private.make_context(runner, dctx, METHOD, params, version)

                async def handle(ctx: ServerRequestContext[Any, Any]) -> dict[str, Any]:
                    if relayed is not None:
                        return private.serialize_result(runner, METHOD, version, relayed)
                    result = await self._on_call_tool(ctx, typed, resolved, traced)
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
        resolved: ResolvedTool,
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
                    result = await self._call_tool(key, arguments, resolved, traced)
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
                    raise input_required_before_2026(key, ctx.protocol_version)
                return result.input_required
            # Legacy clients get structured content that is not an object under the
            # `result` wrapper FastMCP advertises for it (FastMCP 4.2's `_on_call_tool`).
            if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
                result = _wrapped_for_legacy_clients(result)
            return private.normalize_call_tool_result(result.to_mcp_result())

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], resolved: ResolvedTool, traced: bool
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
                            await self._authorization.check_call(resolved.tool)
                        result = await self._run_tool(name, arguments, resolved, traced)
                        call.returned(result.is_error)
                finally:
                    private.dispatch_phase.reset(phase)
            return await private.rebind_prefab_tool_names(mcp, result)

    async def _run_tool(
        self, name: str, arguments: dict[str, Any], resolved: ResolvedTool, traced: bool
    ) -> ToolResult:
        """FastMCP's `call_tool(run_middleware=False)` once the lookup has found the tool."""
        mcp = self._mcp
        tool = resolved.tool
        async with Context(fastmcp=mcp):
            span: AbstractContextManager[trace.Span] = (
                server_span(f"tools/call {name}", METHOD, mcp.name, "tool", name, tool_name=name)
                if traced
                else nullcontext(trace.INVALID_SPAN)
            )
            with span as active_span:
                if traced:
                    active_span.set_attributes(tool.get_span_attributes())
                runs = tool if resolved.runs is None else resolved.runs
                return await run_as_fastmcp(mcp, name, private.run_tool(runs, arguments or {}))


def _spans_observable(params: Mapping[str, Any]) -> bool:
    """Whether FastMCP's spans for this call could make a difference to anyone.

    Without an OpenTelemetry SDK (the API's proxy provider) they are no-op spans; their
    one effect is to carry a trace context the client put in `_meta` into the tool.
    """
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True
    meta = params.get("_meta")
    return isinstance(meta, Mapping) and (TRACE_PARENT_KEY in meta or TRACE_STATE_KEY in meta)


def _without_namespace(name: str, namespace: str) -> str | None:
    """`name` as the relay of `namespace` calls it, or None if that namespace cannot give it."""
    if not namespace:
        return name
    prefix = f"{namespace}_"
    return name[len(prefix) :] if name.startswith(prefix) else None


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
