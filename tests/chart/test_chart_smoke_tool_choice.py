"""Which tool the helm test pod (files/mcp-smoke.py) calls when test.tool is empty.

The script is plain Python, so it is imported from the chart and its choice checked against
tool lists shaped like a real tools/list answer (memory's own tools among them).
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest
from helm_render import CHART, VALUES_DIR, render


def load_smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mcp_smoke", CHART / "files" / "mcp-smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMOKE = load_smoke()


def tool(name: str, required: tuple[str, ...] = (), **annotations: bool) -> dict[str, Any]:
    schema = {"type": "object", "properties": {}, "required": list(required)}
    return {"name": name, "inputSchema": schema, "annotations": annotations or None}


# tools/list of the memory server, in its order: `forget` needs no argument and deletes.
MEMORY_TOOLS = [
    tool("remember", ("text",), readOnlyHint=False, destructiveHint=False),
    tool("recall", ("query",), readOnlyHint=True, idempotentHint=True),
    tool("forget", readOnlyHint=False, destructiveHint=True),
    tool("stats", readOnlyHint=True, idempotentHint=True),
]


def test_a_read_only_tool_wins_over_an_earlier_destructive_one():
    assert SMOKE.pick_tool(MEMORY_TOOLS, "") == "stats"


def test_a_non_destructive_write_is_the_fallback():
    tools = [tool("purge", destructiveHint=True), tool("touch", destructiveHint=False)]
    assert SMOKE.pick_tool(tools, "") == "touch"


def test_read_only_beats_a_non_destructive_write_listed_first():
    tools = [tool("touch", destructiveHint=False), tool("ping", readOnlyHint=True)]
    assert SMOKE.pick_tool(tools, "") == "ping"


@pytest.mark.parametrize(
    "tools",
    [
        [tool("forget", readOnlyHint=False, destructiveHint=True)],
        # MCP's default for a tool that is not read-only is destructiveHint: true.
        [tool("wipe")],
        [tool("wipe", readOnlyHint=False)],
        [tool("recall", ("query",), readOnlyHint=True)],
    ],
    ids=["destructive", "unannotated", "write-without-destructive-hint", "needs-arguments"],
)
def test_nothing_safe_to_call_fails_naming_test_tool(tools: list[dict[str, Any]]):
    names = [item["name"] for item in tools]
    with pytest.raises(SMOKE.SmokeError) as error:
        SMOKE.pick_tool(tools, "")
    assert str(error.value) == (
        "tools/list: no read-only or non-destructive tool without required arguments; "
        f"set test.tool and test.arguments (tools: {names})"
    )


def test_the_configured_tool_is_called_even_when_destructive():
    assert SMOKE.pick_tool(MEMORY_TOOLS, "forget") == "forget"


@pytest.mark.parametrize("values_file", ["memory.yaml", "memory-cpu.yaml"])
def test_memory_helm_test_calls_stats(values_file: str):
    result = render((VALUES_DIR / values_file,))
    (call,) = result.get("Pod", "memory-mcp-test")["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in call["env"]}
    assert env["MCP_TEST_TOOL"] == "stats"
