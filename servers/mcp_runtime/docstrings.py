"""Tool and prompt docstrings of plain prose, read without importing griffe.

FastMCP reads every tool's and prompt's docstring with griffe (its Google, NumPy and Sphinx
parsers in turn) to split parameter descriptions from the summary. Importing griffe costs a
server 30-40 ms of start-up and 2 MiB, and most of the fleet's docstrings are one or two
sentences, which FastMCP returns whole as the description when no parser finds a section.

A docstring without a colon and without an underline (a line of one repeated `-`, `=`, `~`,
`^`, `*`, `+` or `#`) cannot hold a section in any of the three styles: Google headings and
admonitions end in a colon, Sphinx fields are `:name ...:`, NumPy headings are underlined.
Such a docstring is answered here as FastMCP answers it; any other goes to FastMCP's parser,
griffe and all. `tests/runtime/test_runtime_docstrings.py` compares the two. A FastMCP
release that moved its readers only loses the shortcut: the server starts as before.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

from fastmcp.utilities import docstring_parsing
from fastmcp.utilities.docstring_parsing import ParsedDocstring

from mcp_runtime.internals import DOCSTRING_READERS

_UNDERLINE = re.compile(r"^[ \t]*([-=~^*+#])\1+[ \t]*$", re.MULTILINE)


def is_plain_prose(doc: str) -> bool:
    """Whether `doc` cannot hold a section in any docstring style FastMCP parses."""
    return ":" not in doc and _UNDERLINE.search(doc) is None


def parse_docstring(fn: Callable[..., Any]) -> ParsedDocstring:
    """What FastMCP's `parse_docstring` returns for `fn`, without griffe for plain prose."""
    doc = inspect.getdoc(fn)
    if doc and is_plain_prose(doc):
        return ParsedDocstring(description=doc)
    return docstring_parsing.parse_docstring(fn)


def read_plain_docstrings_without_griffe() -> None:
    """Have FastMCP's tool and prompt modules read docstrings through `parse_docstring`.

    A module whose parser is no longer FastMCP's (someone else replaced it), or that is not
    there, is left alone.
    """
    for module_name, name in DOCSTRING_READERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if getattr(module, name, None) is docstring_parsing.parse_docstring:
            setattr(module, name, parse_docstring)
