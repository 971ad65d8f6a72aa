"""`mcp-memory`: serve the memory server on MCP_HOST:MCP_PORT.

`python -m mcp_memory import FILE.jsonl` bulk-imports memories instead (bulk_import.py), and
`python -m mcp_memory export FILE.jsonl` writes every stored memory in that format (export.py).
"""

import gc
import sys

# Start-up allocates over 100,000 objects that live as long as the process;
# collecting among them is wasted work. serve() resumes the collector once listening.
gc.disable()

from mcp_runtime import run  # noqa: E402

from mcp_memory.commands import COMMANDS, run_command  # noqa: E402
from mcp_memory.server import create  # noqa: E402
from mcp_memory.settings import MemorySettings  # noqa: E402


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in COMMANDS:
        gc.enable()
        sys.exit(run_command(sys.argv[1], sys.argv[2:]))
    run(create, MemorySettings)


if __name__ == "__main__":
    main()
