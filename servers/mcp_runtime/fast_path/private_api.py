"""Every private FastMCP and MCP SDK name the fast path uses, and nowhere else.

The fast path mirrors what FastMCP and the SDK do per request, so it needs their internals:
module-level names with a leading underscore (imported below, and listed in
`PRIVATE_NAMES`) and private attributes of their objects (read through the accessors
below). Nothing else in `mcp_runtime.fast_path` touches a private name, so a new FastMCP or
SDK release is checked against this one module: `tests/runtime/test_runtime_private_api.py`
resolves each name and each accessor on the pinned versions. The fast path runs only on the
versions in `mcp_runtime.fast_path_gate.VERIFIED_VERSIONS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, suppress
from typing import Any

from fastmcp import FastMCP
from fastmcp.server import server as _fastmcp_server
from fastmcp.server.dependencies import _dispatching_tool_call, _serving_client_tool_call
from fastmcp.server.extensions import _extension_tool_call_scope
from fastmcp.server.low_level import FastMCPServerMiddleware
from fastmcp.server.middleware.middleware import _dispatch_phase, _interior_dispatched
from fastmcp.server.mixins import mcp_operations as _mcp_operations
from fastmcp.server.providers.wrapped_provider import _WrappedProvider
from fastmcp.server.transforms import Namespace, Transform
from fastmcp.tools.base import Tool, ToolResult
from mcp.server._streamable_http_modern import (
    _mcp_param_rejection,
    _SingleExchangeDispatchContext,
    _to_jsonrpc_response,
    _write,
)
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.runner import ServerRunner, _dump_result, _extract_meta
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.inbound import _annotated_positions
from mcp_types import SERVER_INFO_META_KEY, CallToolResult
from mcp_types import methods as mcp_methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError as PydanticValidationError

from mcp_runtime.internals import lowlevel_server

# (module, name) of each private module-level name imported above; the test resolves each.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("fastmcp.server.dependencies", "_dispatching_tool_call"),
    ("fastmcp.server.dependencies", "_serving_client_tool_call"),
    ("fastmcp.server.extensions", "_extension_tool_call_scope"),
    ("fastmcp.server.middleware.middleware", "_dispatch_phase"),
    ("fastmcp.server.middleware.middleware", "_interior_dispatched"),
    ("fastmcp.server.mixins.mcp_operations", "_normalize_call_tool_result"),
    ("fastmcp.server.providers.proxy", "_CONNECTION_META_KEYS"),
    ("fastmcp.server.providers.proxy", "_forwardable_server_meta"),
    ("fastmcp.server.providers.wrapped_provider", "_WrappedProvider"),
    ("fastmcp.server.server", "_validation_error_summary"),
    ("mcp.client.session", "_clamp_inbound_ttl"),
    ("mcp.client.session", "_later_revision_fields"),
    ("mcp.server._streamable_http_modern", "_mcp_param_rejection"),
    ("mcp.server._streamable_http_modern", "_SingleExchangeDispatchContext"),
    ("mcp.server._streamable_http_modern", "_to_jsonrpc_response"),
    ("mcp.server._streamable_http_modern", "_write"),
    ("mcp.server.runner", "_dump_result"),
    ("mcp.server.runner", "_extract_meta"),
    ("mcp.shared.inbound", "_annotated_positions"),
)

# (owner, attribute) of each private attribute the accessors below read; the owner names a
# FastMCP or SDK class, and the test reads each attribute on a live instance of it.
PRIVATE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("FastMCP", "_on_call_tool"),
    ("FastMCP", "_extensions"),
    ("FastMCP", "_local_provider"),
    ("FastMCP", "_transforms"),
    ("FastMCP", "_rebind_prefab_tool_names"),
    ("FastMCP", "_mask_error_details"),
    ("LocalProvider", "_components"),
    ("LocalProvider", "_transforms"),
    ("_WrappedProvider", "_inner"),
    ("_WrappedProvider", "_transforms"),
    ("Namespace", "_prefix"),
    ("Tool", "_run"),
    ("StreamableHTTPSessionManager", "_lifespan_state"),
    ("StreamableHTTPSessionManager", "_task_group"),
    ("ServerRunner", "_make_context"),
    ("ServerRunner", "_serialize"),
    ("ServerRunner", "_stamp_server_info"),
    ("Server", "_server_info_stamp_source"),
    ("FastMCPServerMiddleware", "_seam_span"),
    ("FastMCPServerMiddleware", "_apply_shared_context"),
)

__all__ = [
    "PRIVATE_ATTRIBUTES",
    "PRIVATE_NAMES",
    "SingleExchangeDispatchContext",
    "StampCopyingRunner",
    "annotated_positions",
    "apply_shared_context",
    "call_tool_handler",
    "client_session_result",
    "connection_meta_keys",
    "dispatch_phase",
    "dispatching_tool_call",
    "dump_result",
    "extension_tool_call_scope",
    "extensions",
    "extract_meta",
    "forwardable_server_meta",
    "fresh_connection",
    "interior_dispatched",
    "lifespan_state",
    "local_components",
    "lowlevel_server",
    "make_context",
    "manager_running",
    "masks_error_details",
    "mcp_param_rejection",
    "normalize_call_tool_result",
    "operations_logger",
    "provider_transforms",
    "rebind_prefab_tool_names",
    "relay_namespaces",
    "run_tool",
    "seam_span",
    "serialize_result",
    "server_logger",
    "server_transforms",
    "serving_client_tool_call",
    "to_jsonrpc_response",
    "validation_error_summary",
    "write_reply",
]

# The SDK's streamable-HTTP pieces for one 2026-07-28 exchange.
SingleExchangeDispatchContext = _SingleExchangeDispatchContext
mcp_param_rejection = _mcp_param_rejection
to_jsonrpc_response = _to_jsonrpc_response
write_reply = _write
annotated_positions = _annotated_positions


def client_session_result(method: str, version: str, raw: dict[str, Any]) -> dict[str, Any]:
    """`raw`, a result of `method` received on a client session of protocol `version`, as
    the SDK's `ClientSession.send_request` returns it with a dict result type: raises the
    ValidationError it raises for a result the version does not allow."""
    # Here, not at the top: only a server that relays calls (a client itself) needs the
    # SDK's client package, which a server that does not would load for this alone.
    from mcp.client.session import _clamp_inbound_ttl, _later_revision_fields

    _clamp_inbound_ttl(raw)
    # A method the SDK has no result schema for (KeyError) is passed on unchecked.
    with suppress(KeyError):
        mcp_methods.validate_server_result(method, version, raw)
    if not (foreign := _later_revision_fields(method, version)).isdisjoint(raw):
        raw = {key: value for key, value in raw.items() if key not in foreign}
    return raw


# The SDK runner's result shaping.
dump_result = _dump_result
extract_meta = _extract_meta

# FastMCP's markers and context variables around a client's tool call.
dispatching_tool_call = _dispatching_tool_call
serving_client_tool_call = _serving_client_tool_call
extension_tool_call_scope = _extension_tool_call_scope
dispatch_phase = _dispatch_phase
interior_dispatched = _interior_dispatched


def normalize_call_tool_result(result: CallToolResult) -> CallToolResult:
    normalized: CallToolResult = _mcp_operations._normalize_call_tool_result(result)
    return normalized


def validation_error_summary(error: PydanticValidationError) -> str:
    summary: str = _fastmcp_server._validation_error_summary(error)
    return summary


# FastMCP's proxy, imported on call: only servers with a tool relay (the bridge) load it.


def connection_meta_keys() -> frozenset[str]:
    """The `_meta` keys of one connection, which FastMCP's proxy never passes across."""
    from fastmcp.server.providers.proxy import _CONNECTION_META_KEYS

    return _CONNECTION_META_KEYS


def forwardable_server_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """An upstream result's `_meta` as FastMCP's proxy passes it on (default identity)."""
    from fastmcp.server.providers.proxy import _forwardable_server_meta

    forwarded: dict[str, Any] = _forwardable_server_meta(meta)
    return forwarded


# FastMCP's module loggers: the fast path logs on them what FastMCP would log there.
server_logger = _fastmcp_server.logger
operations_logger = _mcp_operations.logger


# -- private attributes of FastMCP's objects ------------------------------------------------


def call_tool_handler(mcp: FastMCP) -> Callable[..., Awaitable[Any]]:
    """FastMCP's own `tools/call` handler, to check the low-level server still uses it."""
    handler: Callable[..., Awaitable[Any]] = mcp._on_call_tool
    return handler


def extensions(mcp: FastMCP) -> Sequence[object]:
    return list(mcp._extensions)


def local_components(mcp: FastMCP) -> Mapping[str, object]:
    """The components registered on the server itself (its local provider), by key."""
    return mcp._local_provider._components  # type: ignore[no-any-return]


def server_transforms(mcp: FastMCP) -> Sequence[Transform]:
    return mcp._transforms


def provider_transforms(mcp: FastMCP) -> Sequence[Transform]:
    return mcp._local_provider._transforms


def relay_namespaces(mcp: FastMCP, relays: Sequence[object]) -> tuple[str, ...] | None:
    """The namespace FastMCP gave each of `relays` ("" for none) when the server's components
    come from its own registrations and `relays` (in that order), nothing else; else None.

    `FastMCP.add_provider(provider, namespace=...)` adds the provider wrapped in a provider
    whose one transform is that `Namespace`.
    """
    providers = mcp.providers
    if len(providers) != len(relays) + 1 or providers[0] is not mcp._local_provider:
        return None
    namespaces = []
    for provider, relay in zip(providers[1:], relays, strict=True):
        if provider is relay:
            namespaces.append("")
            continue
        if type(provider) is not _WrappedProvider or provider._inner is not relay:
            return None
        transforms = provider._transforms
        if len(transforms) != 1 or type(transforms[0]) is not Namespace:
            return None
        namespaces.append(transforms[0]._prefix)
    return tuple(namespaces)


def rebind_prefab_tool_names(mcp: FastMCP, result: Any) -> Awaitable[Any]:
    return mcp._rebind_prefab_tool_names(result)


def masks_error_details(mcp: FastMCP) -> bool:
    return bool(mcp._mask_error_details)


def run_tool(tool: Tool, arguments: dict[str, Any]) -> Awaitable[ToolResult]:
    """The tool's own run: argument validation, the call, result conversion and marking."""
    return tool._run(arguments)


# -- private attributes of the SDK's objects ------------------------------------------------


def lifespan_state(manager: StreamableHTTPSessionManager) -> Any:
    return manager._lifespan_state


def manager_running(manager: StreamableHTTPSessionManager) -> bool:
    """Whether the session manager's task group is up (between its lifespan's enter and exit)."""
    return manager._task_group is not None


def fresh_connection(built: Connection) -> Connection:
    """A copy of `built` (from `Connection.from_envelope`) with its own `state` and
    `exit_stack`, as a new one from the same envelope would have them."""
    fresh = Connection.__new__(Connection)
    fresh.__dict__.update(built.__dict__)
    fresh.state = {}
    fresh.exit_stack = AsyncExitStack()
    return fresh


class StampCopyingRunner(ServerRunner[Any]):
    """The SDK's ServerRunner, whose `serverInfo` stamp on a 2026-07-28 result is a copy of the
    server's once-made dump by a copier of JSON values (0.3 µs) instead of the SDK's
    `copy.deepcopy` (4-5 µs, every call). `_stamp_server_info` is mcp 2.3.0's otherwise;
    tests/runtime/test_runtime_private_api.py compares the two on every kind of result."""

    def _stamp_server_info(self, version: str, result: dict[str, Any]) -> dict[str, Any]:
        if version not in MODERN_PROTOCOL_VERSIONS:
            return result
        raw_meta = result.get("_meta")
        if raw_meta is None:
            result["_meta"] = {SERVER_INFO_META_KEY: self._stamp()}
        elif isinstance(raw_meta, dict) and raw_meta.get(SERVER_INFO_META_KEY) is None:
            result["_meta"] = {**raw_meta, SERVER_INFO_META_KEY: self._stamp()}
        return result

    def _stamp(self) -> dict[str, Any]:
        stamp: dict[str, Any] = _json_copy(self.server._server_info_stamp_source)
        return stamp


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON values (dicts, lists and immutable leaves)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value


def make_context(
    runner: ServerRunner[Any, Any],
    dctx: Any,
    method: str,
    params: Mapping[str, Any],
    version: str,
) -> ServerRequestContext[Any, Any]:
    context: ServerRequestContext[Any, Any] = runner._make_context(
        dctx, method, params, extract_meta(params), version
    )
    return context


def serialize_result(
    runner: ServerRunner[Any, Any], method: str, version: str, result: Any
) -> dict[str, Any]:
    serialized: dict[str, Any] = runner._serialize(method, version, result)
    return serialized


def seam_span(
    root: FastMCPServerMiddleware, mcp: FastMCP, ctx: ServerRequestContext[Any, Any]
) -> AbstractContextManager[object]:
    span: AbstractContextManager[object] = root._seam_span(mcp, ctx)
    return span


def apply_shared_context(
    root: FastMCPServerMiddleware, mcp: FastMCP
) -> AbstractContextManager[object]:
    context: AbstractContextManager[object] = root._apply_shared_context(mcp)
    return context
