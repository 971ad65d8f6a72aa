"""Settings of the postgres server: the runtime's, plus the query limits and the role policy."""

from mcp_runtime import RuntimeSettings
from mcp_runtime.settings import PostgresUrl
from pydantic import Field


class PostgresServerSettings(RuntimeSettings):
    # Required here: this server has nothing to serve without a database.
    database_url: PostgresUrl
    mcp_query_max_rows: int = Field(default=1000, ge=1, le=100_000)
    mcp_query_max_bytes: int = Field(default=5_000_000, ge=1_000, le=100_000_000)
    # Each value costs tens to hundreds of bytes of memory however short its JSON; at the
    # default, a result's values stay within some 30 MiB however they are nested.
    mcp_query_max_values: int = Field(default=100_000, ge=100, le=10_000_000)
    mcp_query_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    mcp_db_pool_size: int = Field(default=10, ge=1, le=100)
    # Serve through a superuser, or a member of pg_signal_backend or pg_*_server_*, whose
    # side effects a read-only transaction does not stop; off, such a role is refused.
    # Such a role, once allowed, is allowed the narrower powers below too.
    mcp_postgres_allow_superuser: bool = False
    # Serve through a role that can read password hashes (pg_authid, pg_shadow) or
    # user-mapping options, as pg_read_all_data can; off, such a role is refused.
    mcp_postgres_allow_credential_reads: bool = False
    # Serve through a role that may run pg_cancel_backend or pg_terminate_backend (PUBLIC
    # may, by default), with which one caller can end another's query; off, it is refused.
    mcp_postgres_allow_session_signals: bool = False
