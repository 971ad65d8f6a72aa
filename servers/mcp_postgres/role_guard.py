"""Refuse to serve through a role that can reach the server's files or processes.

A read-only transaction stops writes to tables, not a superuser's pg_read_file, lo_export,
pg_reload_conf or pg_terminate_backend, nor what the predefined roles below allow. The check
runs on every new pooled connection, so it also holds for a database that was down at start,
and a refused role that loses those powers is served without a restart.
"""

import asyncpg

# Predefined roles that signal other backends or touch server files and programs.
SIDE_EFFECT_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_signal_backend",
    "pg_write_server_files",
)

# MEMBER rather than USAGE: set_config('role', ...) inside a SELECT switches to any role the
# user is a member of, inherited or not, and a read-only transaction allows it.
PRIVILEGES_SQL = """
SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       ARRAY(SELECT r.rolname || CASE WHEN r.rolsuper THEN ' (superuser)' ELSE '' END
             FROM pg_roles r
             WHERE (r.rolsuper OR r.rolname = ANY($1::text[]))
               AND pg_has_role(current_user, r.oid, 'MEMBER')
             ORDER BY r.rolname)
"""


class PrivilegedRole(Exception):
    """DATABASE_URL's role can reach files or processes and the override is not set."""


async def privileged_standing(conn: asyncpg.Connection) -> str | None:
    """What makes the connection's role privileged ("a superuser", "a member of ..."), if any."""
    superuser, memberships = await conn.fetchrow(PRIVILEGES_SQL, SIDE_EFFECT_ROLES)
    if superuser:
        return "a superuser"
    if memberships:
        return f"a member of {', '.join(memberships)}"
    return None


async def refuse_privileged_role(conn: asyncpg.Connection) -> None:
    standing = await privileged_standing(conn)
    if standing is not None:
        # Leaves out the role's own name: /ready shows this message without authentication.
        raise PrivilegedRole(
            f"refusing to serve: the DATABASE_URL role is {standing}, whose file and process "
            "functions (pg_read_file, lo_export, pg_terminate_backend, ...) a read-only "
            "transaction does not stop; connect with a role granted only pg_read_all_data, "
            "or set MCP_POSTGRES_ALLOW_SUPERUSER=true"
        )
