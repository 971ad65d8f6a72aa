"""`mcp-gateway`: serve the upstreams of MCP_GATEWAY_SERVERS on one /mcp at MCP_HOST:MCP_PORT."""

import gc

# Start-up allocates objects that live as long as the process; serve() resumes the collector.
gc.disable()

import asyncio  # noqa: E402
import sys  # noqa: E402
from typing import NoReturn  # noqa: E402

from mcp_runtime.app import build_app  # noqa: E402
from mcp_runtime.logs import configure_logging  # noqa: E402
from mcp_runtime.serve import EXIT_BAD_SETTINGS, serve  # noqa: E402
from mcp_runtime.settings import SettingsLoadError, load_settings  # noqa: E402
from mcp_runtime.tool_selection import select_tools  # noqa: E402

from mcp_gateway.connections import closed_after  # noqa: E402
from mcp_gateway.server import Gateway, create  # noqa: E402
from mcp_gateway.settings import GatewaySettings  # noqa: E402


async def _select_tools(gateway: Gateway, settings: GatewaySettings) -> None:
    # This event loop ends with the listing; connections opened in it are no use to the server's.
    async with closed_after(gateway.closables):
        await select_tools(gateway.spec.mcp, settings)


def main() -> NoReturn:
    """The runtime's `run`, plus wiring the app's metrics to the upstreams' tool lists."""
    try:
        settings = load_settings(GatewaySettings)
        configure_logging(settings.log_level)
        gateway = create(settings)
        asyncio.run(_select_tools(gateway, settings))
    except SettingsLoadError as exc:
        print(exc, file=sys.stderr)
        sys.exit(EXIT_BAD_SETTINGS)
    app = build_app(gateway.spec, settings)
    gateway.attach(app)
    serve(app, settings)
    sys.exit(0)


if __name__ == "__main__":
    main()
