"""The runtime's fast path for /mcp (see endpoint.py and tool_calls.py).

Imported only by `mcp_runtime.fast_path_gate`, and only when the fast path is enabled
(MCP_FAST_PATH) and the installed FastMCP and MCP SDK are the versions it was verified
against; every private name of theirs it uses is in private_api.py.
"""
