"""A reference application backend: /api/tasks over the todo MCP server's tools."""
