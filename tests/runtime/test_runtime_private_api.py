"""Every private FastMCP and MCP SDK name the runtime uses resolves on the pinned versions.

They are listed in two modules, `mcp_runtime.fast_path.private_api` (the fast path's) and
`mcp_runtime.internals` (the rest of the runtime's); these tests read each one, and check
that the fast path's other modules use none that bypasses the list.
"""

from __future__ import annotations

import ast
import copy
import importlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client, FastMCP
from fastmcp.server.auth.providers.jwt import JWTVerifier, RSAKeyPair
from fastmcp.server.providers import LocalProvider
from fastmcp.server.transforms import Namespace
from harness.in_process import lifespan_in_own_task
from mcp.server.connection import Connection
from mcp.server.runner import ServerRunner
from mcp_runtime import RuntimeSettings, ServerSpec, build_app
from mcp_runtime import internals as runtime_internals
from mcp_runtime.fast_path import private_api
from mcp_runtime.fast_path_gate import VERIFIED_VERSIONS, installed_versions

FAST_PATH_DIR = Path(private_api.__file__).parent
# Private attributes the fast path reads on objects that are not FastMCP's or the SDK's.
STDLIB_PRIVATE = {"_exit_callbacks"}  # AsyncExitStack's, to skip unwinding an empty stack


def test_the_pinned_versions_are_the_verified_ones() -> None:
    # pyproject.toml pins what VERIFIED_VERSIONS names; a mismatch turns the fast path off.
    assert installed_versions() == VERIFIED_VERSIONS


@pytest.mark.parametrize(
    ("module", "name"),
    [*private_api.PRIVATE_NAMES, *runtime_internals.PRIVATE_NAMES],
    ids=lambda value: value,
)
def test_each_private_module_name_resolves(module: str, name: str) -> None:
    assert hasattr(importlib.import_module(module), name)


@pytest.fixture(scope="module")
async def live() -> AsyncIterator[dict[str, Any]]:
    """A running app's FastMCP, session manager and friends, by class name."""
    mcp = FastMCP("private-api")

    @mcp.tool
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    app = build_app(ServerSpec(mcp=mcp), RuntimeSettings())
    namespaced = LocalProvider().wrap_transform(Namespace("other"))
    client = Client(mcp)
    async with lifespan_in_own_task(app), client:
        manager = app.state.fast_path._sessions.session_manager
        lowlevel = runtime_internals.lowlevel_server(mcp)
        runner = ServerRunner(
            lowlevel,
            Connection.from_envelope("2026-07-28", None, None),
            private_api.lifespan_state(manager),
        )
        yield {
            "FastMCP": mcp,
            "LocalProvider": mcp._local_provider,
            "Tool": await mcp.get_tool("echo"),
            "StreamableHTTPSessionManager": manager,
            "ServerRunner": runner,
            "Server": lowlevel,
            # After the runtime's OperationMetrics, which build_app puts first.
            "FastMCPServerMiddleware": lowlevel.middleware[1],
            "JWTVerifier": JWTVerifier(public_key=RSAKeyPair.generate().public_key),
            "ClientSession": client.session,
            "_WrappedProvider": namespaced,
            "Namespace": namespaced._transforms[0],
        }


@pytest.mark.parametrize(
    ("owner", "attribute"),
    [*private_api.PRIVATE_ATTRIBUTES, *runtime_internals.PRIVATE_ATTRIBUTES],
    ids=lambda value: value,
)
def test_each_private_attribute_resolves(live: dict[str, Any], owner: str, attribute: str) -> None:
    assert type(live[owner]).__name__ == owner or owner in {
        cls.__name__ for cls in type(live[owner]).__mro__
    }
    getattr(live[owner], attribute)


async def test_the_accessors_work_on_live_objects(live: dict[str, Any]) -> None:
    mcp, manager = live["FastMCP"], live["StreamableHTTPSessionManager"]
    assert private_api.manager_running(manager)
    assert private_api.relay_namespaces(mcp, ()) == ()
    assert private_api.relay_namespaces(mcp, (object(),)) is None
    assert "tool:echo@" in private_api.local_components(mcp)
    assert private_api.call_tool_handler(mcp) is not None
    assert not private_api.masks_error_details(mcp)
    result = await private_api.run_tool(live["Tool"], {"text": "hi"})
    assert result.structured_content == {"result": "hi"}
    assert runtime_internals.open_sessions(manager) == 0
    assert 0 < runtime_internals.jwt_nbf_skew_seconds() <= 600
    key = await runtime_internals.jwt_verification_key(live["JWTVerifier"], "any.token.here")
    assert key.key_type == "RSA"
    data: dict[str, Any] = {"method": "tools/call", "params": {"name": "echo"}}
    options: dict[str, Any] = {}
    runtime_internals.request_stamp(live["ClientSession"])(data, options)
    assert "mcp-protocol-version" in {name.lower() for name in options["headers"]}
    assert "io.modelcontextprotocol/clientInfo" in private_api.connection_meta_keys()
    assert private_api.forwardable_server_meta(
        {"io.modelcontextprotocol/serverInfo": {"name": "up", "version": "1"}, "kept": 1}
    ) == {"kept": 1}


def _private_attributes_read(source: str) -> set[str]:
    """Private attributes read in `source` on anything but `self` (dunders aside)."""
    return {
        node.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    }


def _private_names_imported(source: str) -> set[str]:
    return {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_")
    }


def test_the_private_api_module_lists_every_attribute_it_reads() -> None:
    source = Path(private_api.__file__).read_text()
    listed = {attribute for _, attribute in private_api.PRIVATE_ATTRIBUTES}
    module_level = {name for _, name in private_api.PRIVATE_NAMES}
    # Module attributes read through modules imported whole (server, mcp_operations).
    assert _private_attributes_read(source) <= listed | module_level
    assert _private_names_imported(source) <= module_level


@pytest.mark.parametrize(
    "module",
    sorted(
        path.name
        for path in FAST_PATH_DIR.glob("*.py")
        if path.name not in ("__init__.py", "private_api.py")
    ),
)
def test_the_fast_path_reaches_private_names_only_through_the_private_api(module: str) -> None:
    source = (FAST_PATH_DIR / module).read_text()
    assert _private_names_imported(source) == set()
    assert _private_attributes_read(source) <= STDLIB_PRIVATE


STAMPED_RESULTS: dict[str, dict[str, Any]] = {
    "no meta": {"content": []},
    "meta without a stamp": {"content": [], "_meta": {"kept": 1}},
    "meta with a null stamp": {"_meta": {"io.modelcontextprotocol/serverInfo": None}},
    "the handler's own stamp": {"_meta": {"io.modelcontextprotocol/serverInfo": {"name": "own"}}},
    "meta not a mapping": {"_meta": ["the handler's"]},
}


@pytest.mark.parametrize("version", ["2026-07-28", "2025-11-25"])
@pytest.mark.parametrize("result", list(STAMPED_RESULTS))
def test_the_stamp_copying_runner_stamps_as_the_sdks(
    live: dict[str, Any], version: str, result: str
) -> None:
    sdks = live["ServerRunner"]
    ours = private_api.StampCopyingRunner(
        sdks.server, Connection.from_envelope(version, None, None), None
    )
    expected = sdks._stamp_server_info(version, copy.deepcopy(STAMPED_RESULTS[result]))
    stamped = ours._stamp_server_info(version, copy.deepcopy(STAMPED_RESULTS[result]))
    assert stamped == expected
    # Never the server's own dump: a caller changing its stamp changes no later one.
    if result == "no meta" and version == "2026-07-28":
        stamped["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] = "changed"
        again = ours._stamp_server_info(version, {"content": []})
        assert (
            again["_meta"]["io.modelcontextprotocol/serverInfo"]
            == expected["_meta"]["io.modelcontextprotocol/serverInfo"]
        )
