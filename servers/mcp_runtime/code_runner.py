"""The FastMCP server defined in a mounted Python file, for `mcp-code-runner` (__main__.py).

The chart's code pattern mounts a ConfigMap holding `server.py`, which defines
`mcp = FastMCP(...)` and its tools; this runner gives it the shared runtime.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from fastmcp import FastMCP

from mcp_runtime.app import ServerSpec
from mcp_runtime.settings import RuntimeSettings, SettingsLoadError

_MODULE_NAME = "mcp_code"


class CodeRunnerSettings(RuntimeSettings):
    mcp_code_file: Path = Path("/opt/mcp/code/server.py")


def load_server(path: Path) -> FastMCP:
    """Import `path` and return its FastMCP instance (`mcp`, or the only one it defines)."""
    if not path.is_file():
        raise SettingsLoadError(f"MCP_CODE_FILE: {path} does not exist or is not a file")
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise SettingsLoadError(f"MCP_CODE_FILE: {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MODULE_NAME] = module
    # A ConfigMap may hold several code files; server.py imports the others by name.
    sys.path.insert(0, str(path.parent.absolute()))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SettingsLoadError(
            f"MCP_CODE_FILE: {path} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    named = getattr(module, "mcp", None)
    if isinstance(named, FastMCP):
        return named
    servers = [value for value in vars(module).values() if isinstance(value, FastMCP)]
    if len(servers) == 1:
        return servers[0]
    # `mcp` is something else: the MCP SDK's MCPServer (its FastMCP before 2.0), which its
    # documentation shows; not a module (`import mcp.types` binds the SDK's package to it).
    if named is not None and not servers and not isinstance(named, ModuleType):
        kind = type(named)
        raise SettingsLoadError(
            f"MCP_CODE_FILE: {path} defines `mcp` as a {kind.__module__}.{kind.__qualname__},"
            " which the runner cannot serve; define it as `mcp = FastMCP(...)`"
            " (from fastmcp import FastMCP)"
        )
    found = "no FastMCP instance" if not servers else f"{len(servers)} FastMCP instances"
    raise SettingsLoadError(
        f"MCP_CODE_FILE: {path} defines {found}; define one as `mcp = FastMCP(...)`"
    )


def create(settings: CodeRunnerSettings) -> ServerSpec:
    return ServerSpec(mcp=load_server(settings.mcp_code_file))
