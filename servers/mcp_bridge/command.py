"""Which stdio server to run: from the command line or MCP_BRIDGE_COMMAND, checked up front."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mcp_runtime.settings import SettingsLoadError

from mcp_bridge.settings import BridgeSettings

USAGE = """usage: mcp-bridge [-- COMMAND [ARG ...]]

Serve the stdio MCP server COMMAND over streamable HTTP at /mcp, with the runtime's probes,
metrics, logs, auth and drain. Without COMMAND, MCP_BRIDGE_COMMAND (a JSON list) names it.
Settings are environment variables (MCP_PORT, MCP_BRIDGE_*); see servers/mcp_bridge/README.md."""


@dataclass(frozen=True)
class ChildCommand:
    argv: tuple[str, ...]
    # Where it came from, named in error messages: the variable or the command line.
    source: str


def child_command(args: Sequence[str], settings: BridgeSettings) -> ChildCommand:
    """The command after `--` (or all of `args`), else MCP_BRIDGE_COMMAND; the executable
    must exist, so that a typo stops the start (exit 2) instead of a crash loop."""
    argv = list(args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if argv:
        command = ChildCommand(tuple(argv), "mcp-bridge -- COMMAND")
    elif settings.mcp_bridge_command:
        command = ChildCommand(settings.mcp_bridge_command, "MCP_BRIDGE_COMMAND")
    else:
        raise SettingsLoadError(
            "MCP_BRIDGE_COMMAND: not set; name the stdio server to run as a JSON list, e.g."
            " MCP_BRIDGE_COMMAND='[\"mcp-server-time\"]', or after --:"
            " mcp-bridge -- mcp-server-time"
        )
    _check_executable(command)
    return command


def _check_executable(command: ChildCommand) -> None:
    executable = command.argv[0]
    found: str | None = executable
    if os.sep in executable:
        if not os.path.isfile(executable):
            problem = "no such file"
        elif not os.access(executable, os.X_OK):
            problem = "not executable"
        else:
            problem = _interpreter_problem(executable)
    elif (found := shutil.which(executable)) is None:
        problem = "no such executable on PATH"
    else:
        problem = _interpreter_problem(found)
    if problem is not None:
        raise SettingsLoadError(f"{command.source}: cannot run {executable!r}: {problem}")


def _interpreter_problem(path: str) -> str | None:
    """What is wrong with the interpreter a script's `#!` line names, if anything: a console
    script copied out of its virtual environment names one that is not there, and exec then
    fails with ENOENT as if the script itself were missing."""
    try:
        with open(path, "rb") as file:
            head = file.read(256)
    except OSError:
        return None  # exec will say
    if not head.startswith(b"#!"):
        return None
    words = head[2:].split(b"\n", 1)[0].decode(errors="replace").split()
    if not words:
        return None
    interpreter = words[0]
    if not os.access(interpreter, os.X_OK):
        return f"its interpreter {interpreter!r} (the #! line) does not exist or is not executable"
    # `#!/usr/bin/env NAME`: NAME is looked up on PATH when the script runs.
    through_env = os.path.basename(interpreter) == "env" and len(words) > 1
    if through_env and not words[1].startswith("-") and shutil.which(words[1]) is None:
        return f"its interpreter {words[1]!r} (the #! line, through env) is not on PATH"
    return None


def child_environment(
    environ: Mapping[str, str], settings_cls: type[BridgeSettings] = BridgeSettings
) -> dict[str, str]:
    """The bridge's environment minus its own MCP_* settings.

    Secrets meant for the child (API keys from the pod's Secret) pass through; the bridge's
    own credentials (MCP_AUTH_TOKEN, MCP_JWT_*) and settings do not.
    """
    own = {name.upper() for name in settings_cls.model_fields if name.startswith("mcp_")}
    return {key: value for key, value in environ.items() if key.upper() not in own}
