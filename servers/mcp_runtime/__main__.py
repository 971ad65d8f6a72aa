"""`mcp-code-runner`: serve the FastMCP server defined in MCP_CODE_FILE (see code_runner.py)."""

import gc

# Start-up allocates over 100,000 objects that live as long as the process;
# collecting among them is wasted work. serve() resumes the collector once listening.
gc.disable()

from mcp_runtime.code_runner import CodeRunnerSettings, create  # noqa: E402
from mcp_runtime.serve import run  # noqa: E402


def main() -> None:
    run(create, CodeRunnerSettings)


if __name__ == "__main__":
    main()
