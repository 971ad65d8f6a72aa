"""`mcp-bridge -- COMMAND [ARG ...]`: serve a stdio MCP server on MCP_HOST:MCP_PORT."""

import gc

# Start-up allocates over 100,000 objects that live as long as the process;
# collecting among them is wasted work. serve() resumes the collector once listening.
gc.disable()

import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import NoReturn  # noqa: E402

from mcp_runtime.app import build_app  # noqa: E402
from mcp_runtime.logs import configure_logging  # noqa: E402
from mcp_runtime.serve import EXIT_BAD_SETTINGS, serve  # noqa: E402
from mcp_runtime.settings import SettingsLoadError, load_settings  # noqa: E402

from mcp_bridge import reaper  # noqa: E402
from mcp_bridge.command import USAGE, child_command  # noqa: E402
from mcp_bridge.server import create  # noqa: E402
from mcp_bridge.settings import BridgeSettings  # noqa: E402


def main(args: Sequence[str] | None = None) -> NoReturn:
    """Like the runtime's `run`, but the exit code is the supervisor's: non-zero when the
    child crash-looped, so that Kubernetes restarts the pod and alerting sees it."""
    args = sys.argv[1:] if args is None else list(args)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE)
        sys.exit(0)
    try:
        settings = load_settings(BridgeSettings)
        configure_logging(settings.log_level)
        bridge = create(settings, child_command(args, settings))
    except SettingsLoadError as exc:
        print(exc, file=sys.stderr)
        sys.exit(EXIT_BAD_SETTINGS)
    app = build_app(bridge.spec, settings)
    bridge.attach(app)
    reaper.become_subreaper()
    serve(app, settings)
    sys.exit(bridge.supervisor.exit_code)


if __name__ == "__main__":
    main()
