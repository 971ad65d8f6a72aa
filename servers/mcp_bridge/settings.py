"""The bridge's settings: the runtime's, plus how to run and watch the stdio server."""

from __future__ import annotations

import json
from typing import Annotated, ClassVar

from mcp_runtime.settings import RuntimeSettings
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

Command = Annotated[tuple[str, ...], NoDecode]

_COMMAND_EXAMPLE = '["mcp-server-time", "--local-timezone", "UTC"]'


class BridgeSettings(RuntimeSettings):
    """Read from MCP_BRIDGE_* (and the runtime's own variables)."""

    # The command may carry a token in an argument: errors never repeat it.
    quiet_fields: ClassVar[frozenset[str]] = RuntimeSettings.quiet_fields | {"mcp_bridge_command"}
    one_process_only: ClassVar[str | None] = (
        "mcp-bridge serves from one process, the stdio server's only client; set"
        " MCP_WORKERS=1 and add replicas instead"
    )

    # The stdio server to run, as a JSON list; `mcp-bridge -- CMD ARGS` takes precedence.
    mcp_bridge_command: Command = ()
    # The server name clients see in serverInfo and /metrics' mcp_build_info{server}.
    mcp_bridge_name: str = Field(default="bridge", min_length=1, max_length=100)
    # From spawning the child until it has answered initialize and tools/list. npx and
    # uvx may install packages on first start, which takes a while on a cold node.
    mcp_bridge_startup_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    # A child that stops answering would otherwise hold a call (and the drain) forever.
    mcp_bridge_request_timeout_seconds: float = Field(default=300.0, gt=0, le=86400)
    # One JSON-RPC message from the child (one line of its stdout). A larger one is dropped
    # unread, so a runaway child cannot make the bridge buffer without bound; 16 MiB is
    # four times the largest request the runtime accepts.
    mcp_bridge_max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024, le=1024**3)
    # The first restart waits this long, each further crash within the window twice as long.
    mcp_bridge_restart_backoff_seconds: float = Field(default=0.5, ge=0, le=300)
    mcp_bridge_restart_backoff_max_seconds: float = Field(default=30.0, ge=0, le=3600)
    # This many crashes within the window end the bridge with exit code 1, so that
    # Kubernetes restarts the pod and its alerts see a crash loop.
    mcp_bridge_crash_loop_restarts: int = Field(default=5, ge=1, le=10_000)
    mcp_bridge_crash_loop_window_seconds: float = Field(default=60.0, gt=0, le=86400)
    # How long the child's process group gets to exit after SIGTERM before SIGKILL.
    mcp_bridge_stop_timeout_seconds: float = Field(default=5.0, ge=0, le=300)

    @field_validator("mcp_bridge_command", mode="before")
    @classmethod
    def _json_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return ()
        try:
            command = json.loads(value)
        except json.JSONDecodeError:
            command = None
        if not isinstance(command, list) or not all(isinstance(arg, str) for arg in command):
            raise ValueError(f"must be a JSON list of strings, e.g. {_COMMAND_EXAMPLE}")
        if command and not command[0]:
            raise ValueError("the first element, the executable, is empty")
        return tuple(command)
