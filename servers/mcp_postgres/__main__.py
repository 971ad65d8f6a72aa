"""`mcp-postgres`: serve the read-only postgres server on MCP_HOST:MCP_PORT."""

from mcp_runtime import run

from mcp_postgres.server import create
from mcp_postgres.settings import PostgresServerSettings


def main() -> None:
    run(create, PostgresServerSettings)


if __name__ == "__main__":
    main()
