"""`mcp-todo`: serve the todo server on MCP_HOST:MCP_PORT."""

from mcp_runtime import RuntimeSettings, run

from mcp_todo.server import create


def main() -> None:
    run(create, RuntimeSettings)


if __name__ == "__main__":
    main()
