"""Stock FastMCP with default settings serving one trivial tool, `echo`.

python bench/peers/stock_fastmcp.py PORT
"""

import sys

from fastmcp import FastMCP

mcp = FastMCP("stock")


# Declared as ours is (bench/peers/runtime_echo.py): the same tool, default server settings.
@mcp.tool(run_in_thread=False)
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


if __name__ == "__main__":
    mcp.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False)
