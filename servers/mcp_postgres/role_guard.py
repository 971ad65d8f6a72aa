"""Refuse to serve through a role that can do more than read the tables it is meant to read.

A read-only transaction stops writes to tables, not:
- a superuser's pg_read_file, lo_export or pg_reload_conf, nor what pg_signal_backend and
  pg_*_server_* allow (MCP_POSTGRES_ALLOW_SUPERUSER);
- reading credentials: password hashes (pg_authid.rolpassword, pg_shadow.passwd) and
  user-mapping options, which hold the passwords of foreign servers. pg_read_all_data grants
  SELECT on those catalogs too (MCP_POSTGRES_ALLOW_CREDENTIAL_READS);
- pg_cancel_backend and pg_terminate_backend, which PUBLIC may run by default and which
  let a role signal its own backends: every call shares the role, so one caller could end
  another's query (MCP_POSTGRES_ALLOW_SESSION_SIGNALS). Refusing such statements would not
  hold: query_to_xml('SELECT pg_' || 'cancel_backend(...)', ...) or any existing function
  reaches them from text no guard can read; only the privilege can be relied on.

The checks run on every new pooled connection, so they also hold for a database that was down
at start, and a refused role that loses those powers is served without a restart. They look at
every role the user is a MEMBER of, inherited or not: set_config('role', ...) inside a SELECT
switches to any of them, and a read-only transaction allows it.
"""

from dataclasses import dataclass

import asyncpg

# Predefined roles that signal other backends or touch server files and programs.
SIDE_EFFECT_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_signal_backend",
    "pg_write_server_files",
)

# Functions that signal other sessions or the server. Only the first two are PUBLIC's by
# default; the others are checked in case someone granted them. Absent ones (older or newer
# PostgreSQL versions) are skipped.
SIGNAL_FUNCTIONS = (
    "pg_catalog.pg_cancel_backend(integer)",
    "pg_catalog.pg_terminate_backend(integer, bigint)",
    "pg_catalog.pg_terminate_backend(integer)",
    "pg_catalog.pg_reload_conf()",
    "pg_catalog.pg_rotate_logfile()",
    "pg_catalog.pg_log_backend_memory_contexts(integer)",
    "pg_catalog.pg_promote(boolean, integer)",
)

POWERS_SQL = """
WITH reachable AS (
    SELECT oid, rolname, rolsuper FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')
), secret(col) AS (
    VALUES ('pg_authid.rolpassword'), ('pg_shadow.passwd'), ('pg_user_mapping.umoptions')
), readable AS (
    SELECT s.col, r.rolname FROM secret s, reachable r
    WHERE has_column_privilege(
        r.oid, 'pg_catalog.' || split_part(s.col, '.', 1), split_part(s.col, '.', 2), 'SELECT')
), signals AS (
    SELECT to_regprocedure(signature) AS fn FROM unnest($2::text[]) signature
)
SELECT
    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
    ARRAY(SELECT rolname || CASE WHEN rolsuper THEN ' (superuser)' ELSE '' END FROM reachable
          WHERE rolsuper OR rolname = ANY($1::text[]) ORDER BY rolname),
    ARRAY(SELECT DISTINCT col FROM readable ORDER BY col),
    ARRAY(SELECT DISTINCT rolname FROM readable WHERE rolname <> current_user ORDER BY rolname),
    -- The options pg_user_mappings or information_schema.user_mapping_options show a role.
    (SELECT count(DISTINCT m.umid) FROM pg_user_mappings m
         JOIN pg_foreign_server s ON s.oid = m.srvid, reachable r
     WHERE (m.umuser = r.oid AND (pg_has_role(r.oid, s.srvowner, 'USAGE')
                                  OR has_server_privilege(r.oid, s.oid, 'USAGE')))
        OR (m.umuser = 0 AND pg_has_role(r.oid, s.srvowner, 'USAGE'))),
    ARRAY(SELECT fn::text FROM signals
          WHERE fn IS NOT NULL
            AND EXISTS (SELECT FROM reachable r WHERE has_function_privilege(r.oid, fn, 'EXECUTE'))
          ORDER BY fn::text),
    coalesce((SELECT bool_and(has_function_privilege('public', fn, 'EXECUTE')) FROM signals
              WHERE fn IS NOT NULL
                AND EXISTS (SELECT FROM reachable r
                            WHERE has_function_privilege(r.oid, fn, 'EXECUTE'))), false)
"""


class PrivilegedRole(Exception):
    """DATABASE_URL's role can do more than read and no override allows it."""


@dataclass(frozen=True)
class RolePolicy:
    """Which powers to serve through anyway (the MCP_POSTGRES_ALLOW_* settings)."""

    allow_privileged: bool = False
    allow_credential_reads: bool = False
    allow_session_signals: bool = False


@dataclass(frozen=True)
class RolePowers:
    """What the connection's role can do beyond reading, as found in the catalogs."""

    # "a superuser", "a member of pg_signal_backend, ...", or None.
    privileged: str | None
    # Catalog columns holding credentials it can read, e.g. "pg_authid.rolpassword".
    secret_columns: tuple[str, ...]
    # The roles (other than itself) that give it those reads, e.g. pg_read_all_data.
    secret_columns_through: tuple[str, ...]
    # User mappings whose options it can read.
    user_mappings: int
    # Signal functions it may run, e.g. "pg_cancel_backend(integer)".
    signal_functions: tuple[str, ...]
    # Whether every one of them is PUBLIC's, so REVOKE ... FROM PUBLIC is the fix.
    signals_from_public: bool

    @property
    def reads_credentials(self) -> bool:
        return bool(self.secret_columns) or self.user_mappings > 0

    def credentials_text(self) -> str:
        what = list(self.secret_columns)
        if self.user_mappings:
            what.append(f"the options of {self.user_mappings} user mapping(s)")
        through = self.secret_columns_through
        return ", ".join(what) + (f", through {', '.join(through)}" if through else "")

    def signals_text(self) -> str:
        return " and ".join(sorted({fn.partition("(")[0] for fn in self.signal_functions}))


async def role_powers(conn: asyncpg.Connection) -> RolePowers:
    row = await conn.fetchrow(POWERS_SQL, SIDE_EFFECT_ROLES, SIGNAL_FUNCTIONS)
    superuser, memberships, columns, through, mappings, signals, from_public = row
    privileged = (
        "a superuser"
        if superuser
        else f"a member of {', '.join(memberships)}"
        if memberships
        else None
    )
    return RolePowers(
        privileged=privileged,
        secret_columns=tuple(columns),
        secret_columns_through=tuple(through),
        user_mappings=mappings,
        signal_functions=tuple(signals),
        signals_from_public=from_public,
    )


def refusal(powers: RolePowers, policy: RolePolicy) -> str | None:
    """Why the role must not be served under `policy`, naming each fix; None when it may."""
    # Leaves out the role's own name: /ready shows this message without authentication.
    if powers.privileged is not None:
        if policy.allow_privileged:
            # Allowed all of a superuser's powers, it is allowed the narrower ones too.
            return None
        return (
            f"refusing to serve: the DATABASE_URL role is {powers.privileged}, whose file and "
            "process functions (pg_read_file, lo_export, pg_terminate_backend, ...) a "
            "read-only transaction does not stop; connect with a role granted only USAGE and "
            "SELECT on the schemas it should read (see the mcp_postgres README), or set "
            "MCP_POSTGRES_ALLOW_SUPERUSER=true"
        )
    problems = []
    if powers.reads_credentials and not policy.allow_credential_reads:
        problems.append(
            f"can read credentials ({powers.credentials_text()}): grant it only USAGE and "
            "SELECT on the schemas it should read instead (see the mcp_postgres README), or "
            "set MCP_POSTGRES_ALLOW_CREDENTIAL_READS=true"
        )
    if powers.signal_functions and not policy.allow_session_signals:
        functions = ", ".join(f"pg_catalog.{fn}" for fn in powers.signal_functions)
        grantees = "PUBLIC" if powers.signals_from_public else "it and the roles it belongs to"
        problems.append(
            f"can run {powers.signals_text()}, with which one caller can end another's query "
            f"(every call shares the role): REVOKE EXECUTE ON FUNCTION {functions} FROM "
            f"{grantees} (see the mcp_postgres README), or set "
            "MCP_POSTGRES_ALLOW_SESSION_SIGNALS=true"
        )
    if not problems:
        return None
    return "refusing to serve: the DATABASE_URL role " + "; and it ".join(problems)


def allowed_powers(powers: RolePowers, policy: RolePolicy) -> dict[str, str]:
    """What the overrides let through, as start-up log events and their details."""
    if powers.privileged is not None:
        return {"postgres_role_privileged_allowed": powers.privileged}
    allowed = {}
    if powers.reads_credentials and policy.allow_credential_reads:
        allowed["postgres_role_credential_reads_allowed"] = powers.credentials_text()
    if powers.signal_functions and policy.allow_session_signals:
        allowed["postgres_role_session_signals_allowed"] = powers.signals_text()
    return allowed


async def refuse_unsafe_role(conn: asyncpg.Connection, policy: RolePolicy) -> RolePowers:
    """The role's powers; raises PrivilegedRole when `policy` does not allow them."""
    powers = await role_powers(conn)
    reason = refusal(powers, policy)
    if reason is not None:
        raise PrivilegedRole(reason)
    return powers
