"""First line of defence for run_query: only one statement, and only a reading kind.

The read-only transaction is what stops writes; this guard exists for what a read-only
transaction still permits (COPY ... TO a server file, DO blocks, transaction control,
session SET) and to give a clear error before PostgreSQL is asked at all.
"""

import re

from mcp_postgres.errors import QueryRejected

READING_KEYWORDS = ("SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN")

_WORD = re.compile(r"[A-Za-z_]+")


class StatementRefused(QueryRejected):
    """The SQL is not a single read-only query."""


def leading_keyword(sql: str) -> str:
    """The first keyword of `sql` after whitespace, comments and opening parentheses."""
    i = 0
    while i < len(sql):
        if sql[i].isspace() or sql[i] == "(":
            i += 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = len(sql) if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            i = _end_of_block_comment(sql, i)
        else:
            break
    match = _WORD.match(sql, i)
    return match.group(0).upper() if match else ""


def _end_of_block_comment(sql: str, start: int) -> int:
    # PostgreSQL block comments nest: "/* a /* b */ c */" is one comment.
    depth = 0
    i = start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(sql)


def check_statement(sql: str) -> None:
    """Raise StatementRefused unless `sql` starts like a query that only reads."""
    if not sql.strip():
        raise StatementRefused("sql: must not be empty")
    # The protocol sends the query as a NUL-terminated string: PostgreSQL would take what
    # follows a NUL for the message's next fields and fail it as a protocol violation,
    # which reads like a database outage.
    if (nul := sql.find("\x00")) >= 0:
        raise StatementRefused(
            f"sql: must not contain NUL (U+0000) at index {nul}; PostgreSQL would read the"
            " query only up to it"
        )
    keyword = leading_keyword(sql)
    if keyword not in READING_KEYWORDS:
        shown = keyword or "no keyword"
        raise StatementRefused(
            f"sql: only read-only queries are allowed (statements starting with "
            f"{', '.join(READING_KEYWORDS)}); this one starts with {shown}"
        )
