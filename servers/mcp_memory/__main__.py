"""`mcp-memory`: serve the memory server on MCP_HOST:MCP_PORT."""

import sys

from mcp_runtime import SettingsLoadError, build_app, load_settings
from mcp_runtime.logs import configure_logging
from mcp_runtime.serve import EXIT_BAD_SETTINGS, serve

from mcp_memory.server import create
from mcp_memory.settings import MemorySettings


def main() -> None:
    # mcp_runtime.run() has no hook for a server's own metrics, so this is run() plus
    # one line adding the memory metrics to the app's /metrics registry.
    try:
        settings = load_settings(MemorySettings)
        configure_logging(settings.log_level)
        server = create(settings)
    except SettingsLoadError as exc:
        print(exc, file=sys.stderr)
        sys.exit(EXIT_BAD_SETTINGS)
    app = build_app(server.spec, settings)
    app.state.metrics.registry.register(server.metrics.registry)
    serve(app, settings)
    sys.exit(0)


if __name__ == "__main__":
    main()
