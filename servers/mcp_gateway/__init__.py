"""One /mcp for many upstream MCP servers, composed with FastMCP's proxy providers."""
