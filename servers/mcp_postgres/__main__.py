"""`mcp-postgres`: serve the read-only postgres server on MCP_HOST:MCP_PORT."""

import gc

# Start-up allocates over 100,000 objects that live as long as the process;
# collecting among them is wasted work. serve() resumes the collector once listening.
gc.disable()

from mcp_runtime import run  # noqa: E402

from mcp_postgres.server import create  # noqa: E402
from mcp_postgres.settings import PostgresServerSettings  # noqa: E402


def main() -> None:
    run(create, PostgresServerSettings)


if __name__ == "__main__":
    main()
