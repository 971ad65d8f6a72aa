"""mcp_runtime.docstrings reads plain-prose docstrings as FastMCP does, without griffe."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastmcp.prompts.function_prompt
import fastmcp.tools.function_parsing
import pytest
from fastmcp.prompts import Prompt
from fastmcp.tools import Tool
from fastmcp.utilities import docstring_parsing
from mcp_runtime import docstrings

SERVERS = Path(__file__).resolve().parents[2] / "servers"

# Plain prose, as the shortcut reads it, and what only griffe may read (each has a colon or
# an underline); both must come out as FastMCP's own parser has them.
PLAIN = [
    "Return one task.",
    "Store several texts at once.\n\nAll of them are embedded together, in one run.",
    "Bullets\n- one\n- two\n\n* three",
    "Returns\n    the value, indented under a heading without its colon",
    "An example\n\n>>> 1 + 1\n2",
    "Args\n    x -- the x, Napoleon-like but without the colon",
    "Trailing spaces   \n\n    an indented block\n",
]
STRUCTURED = [
    "Add two numbers.\n\nArgs:\n    a: the first\n    b: the second\n\nReturns:\n    The sum.",
    "Add two numbers.\n\nParameters\n----------\na : int\n    the first",
    "Add two numbers.\n\n:param a: the first\n:returns: the sum",
    "Notes\n=====\nAn underlined heading.",
    "Note:\n    An admonition.",
    "Describe a table: columns, keys and indexes.",
    "See https://example.com for more.",
]


def _with_doc(doc: str | None) -> Callable[..., Any]:
    def tool(a: int = 0, b: int = 0) -> int:
        return a + b

    tool.__doc__ = doc
    return tool


def _server_tool_docstrings() -> list[str]:
    """The docstring of every tool and prompt function in servers/."""
    found = []
    for path in sorted(SERVERS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            decorated = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                "tool" in ast.unparse(d) or "prompt" in ast.unparse(d) for d in node.decorator_list
            )
            if decorated and (doc := ast.get_docstring(node)):
                found.append(doc)
    return found


def test_the_fleets_tool_docstrings_are_found() -> None:
    docs = _server_tool_docstrings()
    assert "Return one task." in docs
    assert len(docs) >= 15


@pytest.mark.parametrize("doc", [None, "", *PLAIN, *STRUCTURED, *_server_tool_docstrings()])
def test_every_docstring_reads_as_fastmcp_reads_it(doc: str | None) -> None:
    fn = _with_doc(doc)
    assert docstrings.parse_docstring(fn) == docstring_parsing.parse_docstring(fn)


def test_no_server_of_the_fleet_needs_griffe_for_its_tools() -> None:
    sectioned = [doc for doc in _server_tool_docstrings() if not docstrings.is_plain_prose(doc)]
    assert sectioned == []


def _griffe_loaded_after_parsing(doc: str) -> bool:
    code = (
        "import sys\n"
        "from mcp_runtime.docstrings import parse_docstring\n"
        "def tool(): pass\n"
        f"tool.__doc__ = {doc!r}\n"
        "parse_docstring(tool)\n"
        "print('griffe' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return ran.stdout.strip() == "True"


def test_plain_prose_needs_no_griffe_and_a_section_still_gets_it() -> None:
    assert not _griffe_loaded_after_parsing(PLAIN[1])
    assert _griffe_loaded_after_parsing(STRUCTURED[0])


def test_fastmcp_reads_tool_and_prompt_docstrings_through_the_runtime() -> None:
    # mcp_runtime.app installed it on import (the runtime package imports it for `run`).
    import mcp_runtime.app  # noqa: F401

    assert fastmcp.tools.function_parsing.parse_docstring is docstrings.parse_docstring
    assert fastmcp.prompts.function_prompt.parse_docstring is docstrings.parse_docstring
    plain = Tool.from_function(_with_doc(PLAIN[1]))
    sectioned = Tool.from_function(_with_doc(STRUCTURED[0]))
    assert plain.description == PLAIN[1]
    assert sectioned.description == "Add two numbers."
    assert sectioned.parameters["properties"]["a"]["description"] == "the first"
    prompt = Prompt.from_function(_with_doc(STRUCTURED[0]))
    assert prompt.description == "Add two numbers."
    # FastMCP appends how to encode a non-string argument to the docstring's description.
    described = {argument.name: argument.description or "" for argument in prompt.arguments or []}
    assert described["a"].startswith("the first\n\n")
    assert described["b"].startswith("the second\n\n")


def test_a_parser_someone_else_installed_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def theirs(fn: Callable[..., Any]) -> docstring_parsing.ParsedDocstring:
        return docstring_parsing.ParsedDocstring(description="theirs")

    monkeypatch.setattr(fastmcp.tools.function_parsing, "parse_docstring", theirs)
    monkeypatch.setattr(
        fastmcp.prompts.function_prompt, "parse_docstring", docstring_parsing.parse_docstring
    )
    docstrings.read_plain_docstrings_without_griffe()
    assert fastmcp.tools.function_parsing.parse_docstring is theirs
    assert fastmcp.prompts.function_prompt.parse_docstring is docstrings.parse_docstring


def test_readers_a_fastmcp_release_moved_are_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        docstrings,
        "DOCSTRING_READERS",
        (
            ("fastmcp.no_such_module", "parse_docstring"),
            ("fastmcp.tools.function_parsing", "no_such_parser"),
        ),
    )
    docstrings.read_plain_docstrings_without_griffe()
    assert not hasattr(fastmcp.tools.function_parsing, "no_such_parser")
