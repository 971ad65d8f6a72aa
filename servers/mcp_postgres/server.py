"""Build the postgres server from settings: catalog and read-only query tools."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastmcp import FastMCP
from mcp_runtime import PACKAGE_VERSION, ServerSpec
from mcp_runtime.postgres import DatabaseUnavailable

from mcp_postgres.database import Database
from mcp_postgres.result_limits import QueryLimits
from mcp_postgres.role_guard import PrivilegedRole, RolePolicy
from mcp_postgres.settings import PostgresServerSettings
from mcp_postgres.tools import register_tools

log = structlog.get_logger(__name__)

# How much longer than the statement timeout a call may wait on the database's answer.
COMMAND_TIMEOUT_MARGIN_SECONDS = 5.0

INSTRUCTIONS = (
    "Read-only access to one PostgreSQL database. Start with list_schemas and list_tables, "
    "use describe_table for columns and keys, then query with $1-style parameters. "
    "Every write is refused."
)


def create(settings: PostgresServerSettings) -> ServerSpec:
    database = Database(
        str(settings.database_url),
        role_policy=RolePolicy(
            allow_privileged=settings.mcp_postgres_allow_superuser,
            allow_credential_reads=settings.mcp_postgres_allow_credential_reads,
            allow_session_signals=settings.mcp_postgres_allow_session_signals,
        ),
        max_connections=settings.mcp_db_pool_size,
        # A call whose database stops answering (a network partition) fails instead of
        # hanging; the statement timeout fires first while the database still answers.
        command_timeout=settings.mcp_query_timeout_seconds + COMMAND_TIMEOUT_MARGIN_SECONDS,
    )
    mcp = FastMCP("postgres", instructions=INSTRUCTIONS, version=PACKAGE_VERSION)
    limits = QueryLimits(
        max_rows=settings.mcp_query_max_rows,
        max_bytes=settings.mcp_query_max_bytes,
        max_values=settings.mcp_query_max_values,
        timeout_seconds=settings.mcp_query_timeout_seconds,
    )
    register_tools(mcp, database, limits)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            await database.open()
        except DatabaseUnavailable as exc:
            # Serve anyway: /ready stays 503 and the pool connects once the database is back.
            log.warning("postgres_unavailable_at_start", error=str(exc))
        except PrivilegedRole as exc:
            # Serve anyway, so /ready (503) and every tool call say what to change.
            log.error("postgres_role_refused", error=str(exc))
        try:
            yield
        finally:
            await database.close()

    # The function name is what /ready reports when the check fails.
    async def database_reachable() -> None:
        await database.ping()

    return ServerSpec(mcp=mcp, readiness_checks=[database_reachable], lifespan=lifespan)
