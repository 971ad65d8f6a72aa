"""A `tools/call` of a relayed tool (`mcp_runtime.tool_relay`), answered as FastMCP's proxy
answers it, with the relay's own call in place of FastMCP's dispatch and proxy client.

FastMCP would run the call through its middleware chain and `Context`, find the tool through
every provider, and have `ProxyTool.run` call the upstream through a FastMCP `Client`, which
parses the upstream's `CallToolResult` into the SDK's models; the proxy then rebuilds it as
a `ToolResult`, the `tools/call` handler dumps that again, and the runner serializes it for
the client's protocol version. None of that runs code that could tell whether it ran: the
tool runs in another process, and `ToolCallObserver`, the only middleware acting on calls
(`FastToolCalls.unsupported_reason` checks), is applied here as well. So `RelayedCalls`
keeps what reaches the upstream, the client, the metrics and the logs:

- the upstream gets the client's `_meta` minus the keys of the client's own connection
  (FastMCP's `_forwardable_request_meta`), through the relay;
- FastMCP's log records and error handling around the run (`call_errors.run_as_fastmcp`),
  and its answer to a FastMCP error (a tool error with the message);
- the result stays the dict the upstream sent, which the SDK has checked against the
  upstream's protocol version, and becomes the dict FastMCP's steps end with (see
  `relayed_result`); the runner's serializer then checks it against the client's version as
  it checks FastMCP's. Only what the SDK's model would change goes through that model: an
  `isError` that is not a boolean (coerced, or rejected as the model rejects it). Content
  blocks and `_meta` leave the model's round trip as they entered it, as far as the
  client's version of the protocol can tell.

Calls whose spans someone could observe go to `FastToolCalls`' full mirror instead.
tests/bridge/test_bridge_fast_path.py compares the answers, metrics and logs with FastMCP's
proxy's.
"""

from __future__ import annotations

from typing import Any

from fastmcp import FastMCP
from fastmcp.exceptions import FastMCPError
from fastmcp.server.providers.prefab_payload import payload_has_identities
from fastmcp.tools.base import RawStructuredToolResult, Tool
from fastmcp.utilities.json_schema import is_object_schema
from mcp_types import CallToolRequestParams, CallToolResult, InputRequiredResult, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import TypeAdapter

from mcp_runtime.fast_path import private_api as private
from mcp_runtime.fast_path.call_errors import input_required_before_2026, run_as_fastmcp
from mcp_runtime.tool_events import ToolCallEvents
from mcp_runtime.tool_grants import ToolAuthorization
from mcp_runtime.tool_relay import ToolRelay

# How the SDK's ClientSession parses a `tools/call` result (mcp.client.session).
_AS_THE_SDK_PARSES = TypeAdapter(CallToolResult | InputRequiredResult)


class RelayedCalls:
    """Serves `tools/call` of the relay's tools the way FastMCP's proxy would."""

    def __init__(
        self,
        mcp: FastMCP,
        events: ToolCallEvents,
        authorization: ToolAuthorization | None = None,
    ) -> None:
        self._mcp = mcp
        self._events = events
        self._authorization = authorization

    async def call(
        self,
        params: CallToolRequestParams,
        tool: Tool,
        relay: ToolRelay,
        relayed_name: str,
        version: str,
    ) -> dict[str, Any] | CallToolResult:
        """What FastMCP's `_on_call_tool` would return for calling `tool` (FastMCP's lookup
        for `params.name`, `relayed_name` at `relay`) on a connection of protocol `version`:
        the model, or its dump."""
        mcp = self._mcp
        name = params.name
        arguments = params.arguments or {}
        private.operations_logger.debug(
            f"[{mcp.name}] Handler called: call_tool %s with %s", name, arguments
        )
        try:
            with self._events.observe(name) as call:
                if self._authorization is not None:
                    await self._authorization.check_call(tool)
                run = _relayed(relay, relayed_name, arguments, params.meta, version)
                parsed = await run_as_fastmcp(mcp, name, run)
                call.returned(is_tool_error(parsed))
        except FastMCPError as e:
            return CallToolResult(content=[TextContent(type="text", text=str(e))], is_error=True)
        if is_input_required(parsed):  # the upstream's ask (SEP-2322), passed on as it came
            return parsed
        structured = parsed.get("structuredContent")
        if payload_has_identities(structured):
            # FastMCP re-addresses a Prefab payload's tool references in place.
            carrier = RawStructuredToolResult(content=[], structured_content=structured)
            await private.rebind_prefab_tool_names(mcp, carrier)
        return relayed_result(parsed, tool, version not in MODERN_PROTOCOL_VERSIONS)


async def _relayed(
    relay: ToolRelay, name: str, arguments: dict[str, Any], meta: object, version: str
) -> dict[str, Any]:
    forwarded = forwarded_request_meta(meta if isinstance(meta, dict) else None)
    parsed = as_parsed(await relay.relay(name, arguments, forwarded))
    if is_input_required(parsed) and version not in MODERN_PROTOCOL_VERSIONS:
        # A relay may call in 2026-07-28 for a handshake-era client: the error the
        # upstream's FastMCP gives such a client itself, which FastMCP's proxy relays.
        raise input_required_before_2026(name, version)
    return parsed


def forwarded_request_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The client's request `_meta` the upstream gets (FastMCP's `_forwardable_request_meta`)."""
    if not meta:
        return None
    connection_keys = private.connection_meta_keys()
    return {key: value for key, value in meta.items() if key not in connection_keys} or None


def as_parsed(received: dict[str, Any]) -> dict[str, Any]:
    """`received` as far as the SDK's parse would keep it; raises the parse's
    ValidationError where the parse would."""
    if isinstance(received.get("isError", False), bool):
        return received
    parsed = _AS_THE_SDK_PARSES.validate_python(received, by_name=False)
    return parsed.model_dump(by_alias=True, mode="json", exclude_none=True)


def is_input_required(result: dict[str, Any] | CallToolResult) -> bool:
    """Whether `result` asks the client for input (an `InputRequiredResult`, SEP-2322)."""
    return isinstance(result, dict) and result.get("resultType") == "input_required"


def is_tool_error(parsed: dict[str, Any]) -> bool:
    is_error: bool = parsed.get("isError", False)
    return is_error


def relayed_result(parsed: dict[str, Any], tool: Tool, handshake_era: bool) -> dict[str, Any]:
    """What `CallToolResult.model_dump` gives for the result FastMCP's `tools/call` handler
    makes of the upstream's `parsed` (from `as_parsed`) for a client of `handshake_era` or not.

    `ProxyTool.run` drops the upstream's connection keys and `serverInfo` from `_meta`; keeps
    structured content that is not an object, or that `tool`'s output schema declares a
    non-object, as it is (`RawStructuredToolResult`), which the handler wraps under `result`
    for a handshake-era client, as FastMCP advertises for such schemas.
    """
    structured = parsed.get("structuredContent")
    meta = private.forwardable_server_meta(parsed.get("_meta")) or None
    raw_structured = "structuredContent" in parsed and (
        not isinstance(structured, dict)
        or (tool.output_schema is not None and not is_object_schema(tool.output_schema))
    )
    if raw_structured and handshake_era:
        # FastMCP 4.2's `_on_call_tool`, as `tool_calls._wrapped_for_legacy_clients` has it.
        fastmcp_meta = meta.get("fastmcp") if meta else None
        if not (isinstance(fastmcp_meta, dict) and fastmcp_meta.get("wrap_result") is True):
            structured = {"result": structured}
            meta = dict(meta or {})
            meta["fastmcp"] = {
                **(fastmcp_meta if isinstance(fastmcp_meta, dict) else {}),
                "wrap_result": True,
            }
    result: dict[str, Any] = {}
    if meta is not None:
        result["_meta"] = meta
    result["content"] = parsed["content"]
    if structured is not None:
        result["structuredContent"] = structured
    result["isError"] = is_tool_error(parsed)
    result["resultType"] = "complete"
    return result
