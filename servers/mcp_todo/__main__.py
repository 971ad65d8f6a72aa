"""`mcp-todo`: serve the todo server on MCP_HOST:MCP_PORT."""

import gc

# Start-up allocates over 100,000 objects that live as long as the process;
# collecting among them is wasted work. serve() resumes the collector once listening.
gc.disable()

from mcp_runtime import RuntimeSettings, run  # noqa: E402

from mcp_todo.server import create  # noqa: E402


def main() -> None:
    run(create, RuntimeSettings)


if __name__ == "__main__":
    main()
