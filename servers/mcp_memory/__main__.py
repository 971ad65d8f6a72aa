"""`mcp-memory`: serve the memory server on MCP_HOST:MCP_PORT."""

from mcp_runtime import run

from mcp_memory.server import create
from mcp_memory.settings import MemorySettings


def main() -> None:
    run(create, MemorySettings)


if __name__ == "__main__":
    main()
