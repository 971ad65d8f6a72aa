"""What FastMCP and uvicorn import for features a server may not use waits for first use.

Each importer listed in `mcp_runtime.deferred_imports` still imports exactly those names on
the installed release; in a fresh interpreter that imports the runtime first, none of the
libraries is loaded until a deferred name is used, and then the name is the real object,
in the importer's namespace too. An importer on another release imports as written.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from mcp_runtime.deferred_imports import IMPORTERS, Importer


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: in the test process FastMCP is imported long before this runs.
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def _source(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    package = importer if is_package else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


# Stands for `import module` among the names an importer takes from a module.
WHOLE = "*module*"


def _top_level_imports(importer: str) -> dict[str, tuple[set[str], bool]]:
    """Each module the importer's body imports from: the names (WHOLE for `import module`),
    and whether inside a `try` that handles ImportError."""
    spec = importlib.util.find_spec(importer)
    assert spec is not None
    found: dict[str, tuple[set[str], bool]] = {}

    def visit(statements: list[ast.stmt], guarded: bool) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname is None:
                        found.setdefault(alias.name, (set(), guarded))[0].add(WHOLE)
            elif isinstance(node, ast.ImportFrom):
                module = _absolute(node, importer, spec.submodule_search_locations is not None)
                names, _ = found.get(module, (set(), guarded))
                found[module] = (names | {alias.name for alias in node.names}, guarded)
            elif isinstance(node, ast.Try):
                handles = any(
                    isinstance(handler.type, ast.Name)
                    and handler.type.id in {"ImportError", "ModuleNotFoundError"}
                    for handler in node.handlers
                )
                visit(node.body, guarded or handles)

    visit(_source(importer).body, guarded=False)
    return found


def _names_read(module: str) -> set[str]:
    return {
        node.id
        for node in ast.walk(_source(module))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


@pytest.mark.parametrize("importer", IMPORTERS, ids=lambda importer: importer.module)
def test_each_importer_is_on_its_release_and_imports_exactly_those_names(
    importer: Importer,
) -> None:
    distribution, release = importer.release
    # pyproject.toml and uv.lock pin these; a new release means reading its imports again.
    assert version(distribution) == release
    imports = _top_level_imports(importer.module)
    for entry in importer.deferred:
        assert entry.module in imports, f"{importer.module} no longer imports {entry.module}"
        names, guarded = imports[entry.module]
        # A hidden module must be one the importer's own code goes on without.
        assert guarded == entry.absent
        if not entry.absent:
            whole = {WHOLE} if entry.whole else set()
            assert names == {*whole, *entry.names, *entry.exports, *entry.exceptions}
        # An exported name is only passed on: the importer's own code never reads it.
        assert not set(entry.exports) & _names_read(importer.module)


NOTHING_LOADED = """
import sys
import mcp_runtime
import fastmcp
from fastmcp import FastMCP
import fastmcp.server.auth.auth
import uvicorn, sse_starlette.sse
import mcp.server
deferred = {"rich", "joserfc", "click", "watchfiles", "uvicorn.main", "cryptography.x509",
            "mcp.client", "mcp.server.mcpserver", "httpx2", "fastmcp.mcp_config"}
loaded = sorted(deferred & set(sys.modules))
assert not loaded, loaded
"""


def test_a_server_importing_the_runtime_first_loads_none_of_them() -> None:
    finished = _run(NOTHING_LOADED)
    assert finished.returncode == 0, finished.stderr


FIRST_USE = """
import sys
import mcp_runtime
import fastmcp
import fastmcp.server.auth.auth as auth
import fastmcp.utilities.logging as fastmcp_logging
import uvicorn

# httpx2, imported whole: the module's first attribute used is the real one's.
import fastmcp.utilities.exceptions as exceptions
assert "httpx2" not in sys.modules
assert exceptions.is_timeout_error(ValueError()) is False
import httpx2
assert exceptions.httpx2 is httpx2
assert exceptions.is_timeout_error(httpx2.ReadTimeout("slow")) is True

# rich: FastMCP's handler when rich logging is turned on after all.
fastmcp.settings.enable_rich_logging = True
fastmcp_logging.configure_logging()
import rich.console, rich.logging
handler = __import__("logging").getLogger("fastmcp").handlers[0]
assert type(handler) is rich.logging.RichHandler, handler
assert fastmcp_logging.RichHandler is rich.logging.RichHandler
assert fastmcp_logging.Console is rich.console.Console

# joserfc: auth.py calls extract_compact inside `try ... except JoseError`; the first call
# puts the real exception class in place before the real function raises it.
assert "joserfc" not in sys.modules
try:
    auth.extract_compact(b"not-a-compact-jws")
except auth.JoseError as error:
    import joserfc.errors
    assert isinstance(error, joserfc.errors.JoseError)
else:
    raise AssertionError("extract_compact took a malformed token")
import joserfc.jws
assert auth.extract_compact is joserfc.jws.extract_compact

# uvicorn: subclassing, isinstance and calls reach the real Server and command line.
assert "click" not in sys.modules
from uvicorn.server import Server
class Sub(uvicorn.Server):
    pass
assert issubclass(Sub, Server)
config = uvicorn.Config(app=None)
assert isinstance(Server(config), uvicorn.Server)
assert uvicorn.Server is Server and "click" in sys.modules
# As uvicorn binds them: `uvicorn.main` is the command-line function, not its module.
command_line = sys.modules["uvicorn.main"]
assert uvicorn.run is command_line.run and uvicorn.main is command_line.main

# mcp: the SDK's client, passed on by the package, and the package's `client` itself.
import mcp
assert "mcp.client" not in sys.modules
from mcp import InputRequiredRoundsExceededError
from mcp.client._input_required import InputRequiredRoundsExceededError as real
assert InputRequiredRoundsExceededError is real
assert mcp.client is sys.modules["mcp.client"] and mcp.Client is mcp.client.Client
import mcp.server
assert mcp.server.MCPServer is sys.modules["mcp.server.mcpserver"].MCPServer
"""

REAL_IMPORT_FIRST = """
import sys
import mcp_runtime
import fastmcp.server.auth.auth as auth
import uvicorn
# Another module imports a deferred module itself, before any placeholder is used: here
# FastMCP's JWT verifier, whose joserfc loads joserfc.errors partway through joserfc.jws.
import fastmcp.server.auth.providers.jwt
import joserfc.errors, joserfc.jws
assert auth.JoseError is joserfc.errors.JoseError
assert auth.extract_compact is joserfc.jws.extract_compact
import uvicorn.main
assert uvicorn.main is sys.modules["uvicorn.main"].main
import mcp
from mcp.client.session import ClientSession
assert vars(mcp)["ClientSession"] is ClientSession
"""


@pytest.mark.parametrize("code", [FIRST_USE, REAL_IMPORT_FIRST], ids=["use", "import"])
def test_each_deferred_name_is_the_real_object_from_its_first_use_or_import(code: str) -> None:
    finished = _run(code)
    assert finished.returncode == 0, finished.stderr


FIRST_USE_FROM_THREADS = """
import threading
import mcp_runtime
import fastmcp.server.auth.auth as auth
barrier = threading.Barrier(16)
caught = []
def use() -> None:
    barrier.wait()
    try:
        auth.extract_compact(b"not-a-compact-jws")
    except auth.JoseError:
        caught.append(True)
threads = [threading.Thread(target=use) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
assert len(caught) == 16, caught
"""


def test_a_first_use_from_many_threads_at_once_gets_the_real_object_in_each() -> None:
    finished = _run(FIRST_USE_FROM_THREADS)
    assert finished.returncode == 0, finished.stderr


OTHER_RELEASE = """
import importlib.metadata, sys
installed = importlib.metadata.version
importlib.metadata.version = lambda name: "0.0.0" if name == "fastmcp-slim" else installed(name)
from mcp_runtime import deferred_imports
import fastmcp.server.auth.auth
assert "rich.console" in sys.modules and "joserfc" in sys.modules
import uvicorn
assert "click" not in sys.modules
"""

ALREADY_IMPORTED = """
import sys
import fastmcp.server.server, fastmcp.resources.types, fastmcp.utilities.exceptions
import mcp.server, uvicorn, sse_starlette.sse
import mcp_runtime
from mcp_runtime.deferred_imports import defer_unused_imports
assert "rich.console" in sys.modules
assert defer_unused_imports() == []
"""


@pytest.mark.parametrize(
    "code", [OTHER_RELEASE, ALREADY_IMPORTED], ids=["other-release", "already-imported"]
)
def test_an_importer_on_another_release_or_already_imported_is_left_as_written(
    code: str,
) -> None:
    finished = _run(code)
    assert finished.returncode == 0, finished.stderr


RICH_LOGGING_ON = """
import logging, sys
import mcp_runtime
import fastmcp
import rich.logging
assert isinstance(logging.getLogger("fastmcp").handlers[0], rich.logging.RichHandler)
"""


def test_rich_logging_asked_for_in_the_environment_is_kept() -> None:
    finished = _run(RICH_LOGGING_ON, {**os.environ, "FASTMCP_ENABLE_RICH_LOGGING": "true"})
    assert finished.returncode == 0, finished.stderr
