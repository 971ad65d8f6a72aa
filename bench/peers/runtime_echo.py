"""The shared runtime serving one trivial tool, `echo`: the bench's "ours".

python bench/peers/runtime_echo.py      (MCP_PORT, MCP_WORKERS, ... as for any server)
"""

import gc

# As the servers' entry points do: start-up allocations are not worth collecting.
gc.disable()

# The runtime first, as the servers' entry points import it: it defers what FastMCP would
# import for features this server does not use (mcp_runtime.deferred_imports).
from mcp_runtime import PACKAGE_VERSION, RuntimeSettings, ServerSpec, run  # noqa: E402, I001
from fastmcp import FastMCP  # noqa: E402

mcp = FastMCP("echo", version=PACKAGE_VERSION)


# A sync tool that cannot block, declared so (FastMCP's `run_in_thread=False`): it runs on
# the event loop, as the other SDKs' handlers do, instead of hopping to a worker thread
# (about 0.17 ms of CPU per call on this machine, a quarter of the call).
@mcp.tool(run_in_thread=False)
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


def create(_: RuntimeSettings) -> ServerSpec:
    return ServerSpec(mcp=mcp)


if __name__ == "__main__":
    run(create, RuntimeSettings)
