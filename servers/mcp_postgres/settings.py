"""Settings of the postgres server: the runtime's, plus the query limits and the role policy."""

from mcp_runtime import RuntimeSettings
from mcp_runtime.settings import PostgresUrl
from pydantic import Field


class PostgresServerSettings(RuntimeSettings):
    # Required here: this server has nothing to serve without a database.
    database_url: PostgresUrl
    mcp_query_max_rows: int = Field(default=1000, ge=1, le=100_000)
    mcp_query_max_bytes: int = Field(default=5_000_000, ge=1_000, le=100_000_000)
    mcp_query_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    mcp_db_pool_size: int = Field(default=10, ge=1, le=100)
    # Serve through a superuser, or a member of pg_signal_backend or pg_*_server_*, whose
    # side effects a read-only transaction does not stop; off, such a role is refused.
    mcp_postgres_allow_superuser: bool = False
