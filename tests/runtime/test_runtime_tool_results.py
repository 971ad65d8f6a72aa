"""A model or str a tool returns, serialized once (`SerializedOnceTool`), gives FastMCP's
exact result.

`serialized_once` makes the fast path's copy of a tool; its `convert_result` must produce
what FastMCP's `FunctionTool.convert_result` produces for every value, or leave the value to
it, and the fast path must actually use it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import pytest
from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import Tool, ToolResult
from fastmcp.tools.function_tool import FunctionTool
from harness.in_process import both_ways, modern_request, served_in_process
from mcp_runtime import RuntimeSettings, ServerSpec, build_app
from mcp_runtime.fast_path.tool_results import SerializedOnceTool, serialized_once
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer


class Task(BaseModel):
    id: int
    title: str
    status: Literal["open", "done"]
    created_at: datetime
    completed_at: datetime | None


class Measure(BaseModel):
    value: float
    exact: Decimal
    count: int


class Reading(BaseModel):
    """Writes non-finite floats as JSON's NaN and Infinity tokens, which FastMCP rejects."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    value: float


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first_name: str = Field(alias="firstName")
    tags: list[str] = []


class Shaped(BaseModel):
    """Custom and computed fields, nested models and maps."""

    when: datetime
    inner: Aliased
    scores: dict[str, float]

    @field_serializer("when")
    def _as_date(self, when: datetime) -> str:
        return when.date().isoformat()

    @computed_field
    def size(self) -> int:
        return len(self.scores)


class Subtask(Task):
    parent: int


NOW = datetime(2026, 12, 7, 3, 20, 32, 191000, tzinfo=UTC)
VALUES: list[BaseModel] = [
    Task(id=1, title="benchmark", status="open", created_at=NOW, completed_at=None),
    Task(
        id=2**70,
        title='héllo ✓ \u2028 "quoted" \\ \x01 \U0001f600',
        status="done",
        created_at=NOW,
        completed_at=NOW,
    ),
    Measure(value=-0.0, exact=Decimal("1.10"), count=0),
    Measure(value=1e20, exact=Decimal("-3"), count=-1),
    Measure(value=0.1 + 0.2, exact=Decimal("0"), count=7),
    Measure(value=5e-324, exact=Decimal("1e-30"), count=2**63),
    Measure(value=1.7976931348623157e308, exact=Decimal("-0"), count=-(2**80)),
    Measure(value=123456789.12345679, exact=Decimal("2.5E+3"), count=3),
    Measure(value=float("nan"), exact=Decimal("1"), count=1),  # null, by pydantic's default
    Reading(value=2.5),
    Aliased(first_name="Ann", tags=["a", "b"]),
    Shaped(when=NOW, inner=Aliased(first_name="Bo"), scores={"x": 1.5, "y": 2.0}),
    # Read as non-finite marks, so left to FastMCP, which passes it.
    Task(id=3, title="NaN and Infinity", status="open", created_at=NOW, completed_at=None),
]


def tool_returning(returns: type) -> FunctionTool:
    def make() -> Any:
        raise AssertionError("only its conversion is used")

    make.__annotations__["return"] = returns
    return FunctionTool.from_function(make, name=f"make_{returns.__name__.lower()}")


def converted(tool: Tool, value: Any) -> tuple[dict[str, Any], str, Any]:
    result = tool.convert_result(value)
    # The JSON too: a dict compares -0.0 equal to 0.0, the wire does not.
    return result.model_dump(), result.model_dump_json(), result.to_mcp_result()


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_a_model_converts_as_fastmcp_converts_it(value: BaseModel) -> None:
    tool = tool_returning(type(value))
    once = serialized_once(tool)
    assert isinstance(once, SerializedOnceTool)
    assert converted(once, value) == converted(tool, value)


STRINGS = ["ping", "", 'quoted " \\ \x01 \x7f', "NaN", "héllo ✓ \u2028", "\U0001f600"]


@pytest.mark.parametrize("text", STRINGS)
def test_a_str_converts_as_fastmcp_converts_it(text: str) -> None:
    tool = tool_returning(str)
    once = serialized_once(tool)
    assert isinstance(once, SerializedOnceTool)
    assert converted(once, text) == converted(tool, text)


def test_a_str_with_a_lone_surrogate_gets_fastmcps_error() -> None:
    tool = tool_returning(str)
    with pytest.raises(ToolError) as fastmcps:
        tool.convert_result("\ud800")
    with pytest.raises(ToolError) as ours:
        serialized_once(tool).convert_result("\ud800")
    assert str(ours.value) == str(fastmcps.value)


def test_a_subclass_of_the_declared_model_is_left_to_fastmcp() -> None:
    tool = tool_returning(Task)
    value = Subtask(id=4, title="t", status="open", created_at=NOW, completed_at=None, parent=1)
    assert converted(serialized_once(tool), value) == converted(tool, value)


def test_a_non_finite_float_gets_fastmcps_error() -> None:
    tool = tool_returning(Reading)
    value = Reading(value=float("inf"))
    with pytest.raises(ToolError) as fastmcps:
        tool.convert_result(value)
    with pytest.raises(ToolError) as ours:
        serialized_once(tool).convert_result(value)
    assert str(ours.value) == str(fastmcps.value)
    assert "non-finite float" in str(ours.value)


def test_the_result_is_built_without_serializing_again() -> None:
    tool = tool_returning(Task)
    result = serialized_once(tool).convert_result(VALUES[0])
    assert type(result) is ToolResult
    assert result.structured_content == {
        "id": 1,
        "title": "benchmark",
        "status": "open",
        "created_at": "2026-12-07T03:20:32.191000Z",
        "completed_at": None,
    }
    assert result.content == [
        TextContent(
            type="text",
            text='{"id":1,"title":"benchmark","status":"open",'
            '"created_at":"2026-12-07T03:20:32.191000Z","completed_at":null}',
        )
    ]
    assert result.model_fields_set == {"content", "structured_content", "meta", "is_error"}


def declared(returns: Any, **options: Any) -> FunctionTool:
    def make() -> Any: ...

    make.__annotations__["return"] = returns
    return FunctionTool.from_function(make, name="make", **options)


@pytest.mark.parametrize(
    "returns",
    [int, float, dict[str, int], list[Task], Task | None, ToolResult, CallToolResult, TextContent],
    ids=lambda returns: getattr(returns, "__name__", str(returns)),
)
def test_only_a_plain_model_under_an_object_schema_is_served_once(returns: Any) -> None:
    tool = declared(returns)
    assert serialized_once(tool) is tool


WRAPPED = {"type": "object", "properties": {"result": {}}, "x-fastmcp-wrap-result": True}


@pytest.mark.parametrize(
    ("returns", "schema"),
    [(Task, None), (Task, WRAPPED), (str, None), (str, {"type": "object", "properties": {}})],
    ids=["model-none", "model-wrapped", "str-none", "str-unwrapped"],
)
def test_a_tool_declaring_another_output_schema_is_left_to_fastmcp(
    returns: type, schema: dict[str, Any] | None
) -> None:
    tool = declared(returns, output_schema=schema)
    assert serialized_once(tool) is tool


def test_a_tool_of_another_class_is_left_as_it_is() -> None:
    class Custom(FunctionTool):
        pass

    tool = Custom.from_function(lambda: None, name="custom")
    tool.return_type = Task
    assert serialized_once(tool) is tool


def test_the_copy_keeps_every_field_of_the_tool() -> None:
    tool = declared(Task)
    once = serialized_once(tool)
    assert once.model_dump() == tool.model_dump()
    assert once.fn is tool.fn and once.key == tool.key


async def test_the_fast_path_serializes_a_model_once_and_answers_as_fastmcp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mcp = FastMCP("models")

    @mcp.tool
    async def get_task(task_id: int) -> Task:
        """A task."""
        await asyncio.sleep(0)
        return Task(id=task_id, title="t", status="open", created_at=NOW, completed_at=None)

    conversions: list[str] = []
    fastmcps = FunctionTool.convert_result

    def counted(self: FunctionTool, raw_value: Any) -> ToolResult:
        conversions.append(type(self).__name__)
        return fastmcps(self, raw_value)

    monkeypatch.setattr(FunctionTool, "convert_result", counted)
    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings())
    async with served_in_process(app, mcp) as served:
        request = modern_request("tools/call", {"name": "get_task", "arguments": {"task_id": 5}})
        fast, slow = await both_ways(served, *request)
    assert fast == slow
    assert served.route == "tool call"
    assert fast.body["result"]["structuredContent"]["id"] == 5
    # FastMCP's conversion ran once: for the call the fast path left to FastMCP.
    assert conversions == ["FunctionTool"]
