"""The postgres MCP tools: look at the catalog and run read-only queries."""

from functools import partial
from typing import Annotated

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from mcp_runtime.postgres import DatabaseUnavailable
from mcp_runtime.tool_errors import reported_to_caller
from pydantic import Field, JsonValue

from mcp_postgres import catalog
from mcp_postgres.catalog import SchemaInfo, TableDescription, TableInfo
from mcp_postgres.database import Database, DatabaseBusy
from mcp_postgres.errors import QueryInterrupted, QueryRejected
from mcp_postgres.query import QueryResult, run_read_only
from mcp_postgres.result_limits import QueryLimits
from mcp_postgres.role_guard import PrivilegedRole
from mcp_postgres.statement_guard import check_statement

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)

SchemaName = Annotated[str, Field(description="Schema name, e.g. public.")]


# Our messages name the argument or the rule, so they reach the client as they are. A refused
# role is the operator's to fix, and a query another session ended is not the caller's
# mistake, so both are logged like an outage.
_as_tool_error = partial(
    reported_to_caller,
    retry_later=(DatabaseUnavailable, DatabaseBusy, PrivilegedRole, QueryInterrupted),
    rejected=QueryRejected,
)


def register_tools(mcp: FastMCP, database: Database, limits: QueryLimits) -> None:
    @mcp.tool(annotations=READ_ONLY)
    async def list_schemas() -> list[SchemaInfo]:
        """List the schemas this connection may use (system schemas left out)."""
        with _as_tool_error():
            async with database.connection() as conn:
                return await catalog.list_schemas(conn)

    @mcp.tool(annotations=READ_ONLY)
    async def list_tables(schema: SchemaName = "public") -> list[TableInfo]:
        """List the tables, views and materialized views of one schema."""
        with _as_tool_error():
            async with database.connection() as conn:
                return await catalog.list_tables(conn, schema)

    @mcp.tool(annotations=READ_ONLY)
    async def describe_table(
        table: Annotated[str, Field(description="Table or view name, without the schema.")],
        schema: SchemaName = "public",
    ) -> TableDescription:
        """Describe a table, its columns with types, nullability and defaults, keys and indexes."""
        with _as_tool_error():
            async with database.connection() as conn:
                return await catalog.describe_table(conn, schema, table)

    @mcp.tool(annotations=READ_ONLY)
    async def query(
        sql: Annotated[
            str,
            Field(
                description="One read-only statement (SELECT, WITH, VALUES, TABLE, SHOW, EXPLAIN)."
            ),
        ],
        params: Annotated[
            list[JsonValue] | None,
            Field(description="Values for $1, $2, ... in order; dates and UUIDs as strings."),
        ] = None,
    ) -> QueryResult:
        """Run one read-only SQL query and return its rows.

        The query runs in a read-only transaction with a statement timeout; at most the
        configured number of rows, bytes and values is returned and `truncated` tells
        whether there were more.
        """
        with _as_tool_error():
            check_statement(sql)
            async with database.connection() as conn:
                return await run_read_only(conn, sql, params or [], limits)
