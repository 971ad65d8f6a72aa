"""Tool results converted the way FastMCP converts them, with each value serialized once.

FastMCP's `FunctionTool.convert_result` turns a pydantic model a tool returns into JSON four
times and parses it twice: the model as text content (then thrown away), the model through
its return type's serializer and parsed back as the structured content, that content as text
again, and the structured content once more in `ToolResult.__init__` to check it. A `str`
goes through the same steps under the `result` wrapper of its output schema. For these two
kinds of value every step gives the same JSON, so the fast path runs such tools as a
`SerializedOnceTool`, which serializes a model once and a str not at all. Converting the todo
server's `Task` takes about 8 us instead of 24-26, a str 4 us instead of 15-17 (measured
here, best of five). Any other value, and
anything unusual in one (a str that is not ASCII, a non-finite float in a model's JSON, a
subclass of the declared model) is left to FastMCP's own conversion.

`tests/runtime/test_runtime_tool_results.py` checks the two conversions agree; the fast
path's differential tests check the calls do.
"""

from __future__ import annotations

from functools import cache
from typing import Any, get_args

import pydantic_core
from fastmcp.tools.base import Tool, ToolResult
from fastmcp.tools.function_tool import FunctionTool
from fastmcp.utilities.prefab import is_prefab_type
from fastmcp.utilities.types import Audio, File, Image
from mcp_types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel, TypeAdapter

# Models FastMCP converts by other rules than a plain return value's.
_CONVERTED_OTHERWISE: tuple[type, ...] = (
    ToolResult,
    CallToolResult,
    *get_args(ContentBlock),
    Audio,
    Image,
    File,
)
# FastMCP's wrapper for a result whose schema is not an object, as its output schema says.
_WRAP = "x-fastmcp-wrap-result"
_STR_SCHEMA = {
    "type": "object",
    "properties": {"result": {"type": "string"}},
    "required": ["result"],
    _WRAP: True,
}
# Every field set, as `ToolResult.__init__` sets them; a copy of it with the call's content
# takes 2.7 us here, `model_construct` 4.4 and `__init__` 7 (it serializes the content again).
_RESULT = ToolResult(content=[], structured_content={}, meta=None, is_error=False)


class SerializedOnceTool(FunctionTool):
    """A FunctionTool declared to return a pydantic model or a str, whose results of that
    exact type are converted without serializing them again (see the module docstring)."""

    def convert_result(self, raw_value: Any) -> ToolResult:
        if type(raw_value) is not self.return_type:
            return super().convert_result(raw_value)
        if type(raw_value) is str:
            # JSON gives an ASCII str back unchanged; others may hold a lone surrogate.
            if raw_value.isascii():
                return _str_result(raw_value)
            return super().convert_result(raw_value)
        try:
            payload = _json_serializer(self.return_type).to_json(raw_value)
            text = payload.decode()
        except (pydantic_core.PydanticSerializationError, UnicodeDecodeError):
            return super().convert_result(raw_value)  # raises FastMCP's own ToolError
        if b"NaN" in payload or b"Infinity" in payload:
            # A non-finite float, which FastMCP rejects, or a string that merely reads so,
            # which it passes: either way FastMCP decides.
            return super().convert_result(raw_value)
        return _RESULT.model_copy(
            update={
                "content": [TextContent(type="text", text=text)],
                # pydantic's parser: 0.8 us for a task, against 3 for `json.loads`; both
                # give the same values (the tests compare them with FastMCP's).
                "structured_content": pydantic_core.from_json(payload),
            }
        )


def serialized_once(tool: Tool) -> Tool:
    """`tool` as a `SerializedOnceTool` (a copy sharing its function and schemas) when it is a
    plain FastMCP function tool declared to return a pydantic model under an object output
    schema, or a str under FastMCP's wrapper; otherwise `tool` itself."""
    if type(tool) is not FunctionTool:
        return tool
    schema = tool.output_schema
    if tool.return_type is str:
        served_once = schema == _STR_SCHEMA
    else:
        served_once = (
            _plain_model(tool.return_type)
            and schema is not None
            and schema.get("type") == "object"
            and _WRAP not in schema
        )
    if not served_once:
        return tool
    fields = {name: getattr(tool, name) for name in FunctionTool.model_fields}
    return SerializedOnceTool.model_construct(tool.model_fields_set, **fields)


def _str_result(text: str) -> ToolResult:
    """FastMCP's result for a str that JSON gives back unchanged."""
    return _RESULT.model_copy(
        update={
            "content": [TextContent(type="text", text=text)],
            "structured_content": {"result": text},
            "meta": {"fastmcp": {"wrap_result": True}},
        }
    )


def _plain_model(return_type: Any) -> bool:
    return (
        isinstance(return_type, type)
        and issubclass(return_type, BaseModel)
        and not issubclass(return_type, _CONVERTED_OTHERWISE)
        and not is_prefab_type(return_type)
    )


@cache
def _json_serializer(return_type: type[BaseModel]) -> pydantic_core.SchemaSerializer:
    """The serializer FastMCP builds for a return type's structured content, built once."""
    return pydantic_core.SchemaSerializer(
        TypeAdapter(return_type).core_schema, config={"ser_json_inf_nan": "constants"}
    )
