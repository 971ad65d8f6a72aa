"""Serve a stdio MCP server over streamable HTTP on the shared runtime (see README.md)."""
