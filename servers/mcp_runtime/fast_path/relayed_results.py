"""A relayed tool call's request `_meta` and result, as FastMCP's proxy would pass them on.

FastMCP's `ProxyTool.run` sends the upstream the client's `_meta` minus the keys that
describe the client's own connection. It parses the upstream's `CallToolResult` into the
SDK's models, drops the upstream's connection keys and `serverInfo` from its `_meta`, and
makes it a `ToolResult` (`RawStructuredToolResult` when the structured content is not an
object or the tool's output schema declares a non-object); the `tools/call` handler wraps
such content under `result` for a handshake-era client, and the result is dumped again
and serialized for the client's protocol version.

Here the result stays the dict the upstream sent, which the SDK has already checked
against the upstream's protocol version, and becomes the dict those steps end with; the
runtime's serializer then checks it against the client's version as it checks FastMCP's.
Only what the SDK's model would change is run through that model: an `isError` that is
not a boolean (coerced, or rejected as the model rejects it). Content blocks and `_meta`
come out of the model's round trip as they went in, as far as the client's version of the
protocol can tell (tests/runtime/test_runtime_relayed_calls.py compares the two ways).
"""

from __future__ import annotations

from typing import Any

from fastmcp.tools.base import Tool
from fastmcp.utilities.json_schema import is_object_schema
from mcp_types import CallToolResult

from mcp_runtime.fast_path import private_api as private


def forwarded_request_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The client's request `_meta` the upstream gets (FastMCP's `_forwardable_request_meta`)."""
    if not meta:
        return None
    connection_keys = private.connection_meta_keys()
    return {key: value for key, value in meta.items() if key not in connection_keys} or None


def as_parsed(received: dict[str, Any]) -> dict[str, Any]:
    """`received` as far as the SDK's `CallToolResult` model would keep it; raises the
    model's ValidationError where the model would."""
    if isinstance(received.get("isError", False), bool):
        return received
    return CallToolResult.model_validate(received, by_name=False).model_dump(
        by_alias=True, mode="json", exclude_none=True
    )


def is_tool_error(parsed: dict[str, Any]) -> bool:
    is_error: bool = parsed.get("isError", False)
    return is_error


def relayed_result(parsed: dict[str, Any], tool: Tool, handshake_era: bool) -> dict[str, Any]:
    """The result FastMCP's `tools/call` handler would return for `parsed` (from `as_parsed`),
    as `CallToolResult.model_dump` would give it, for a client of `handshake_era` or not."""
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
