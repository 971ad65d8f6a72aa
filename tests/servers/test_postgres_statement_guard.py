"""The statement guard's reading of the first keyword, comments and all."""

from __future__ import annotations

import pytest
from mcp_postgres.statement_guard import StatementRefused, check_statement, leading_keyword


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("select 1", "SELECT"),
        ("  \n\tWITH x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("((SELECT 1))", "SELECT"),
        ("-- a note\nSELECT 1", "SELECT"),
        ("/* a */ /* b */ values (1)", "VALUES"),
        ("/* outer /* inner */ still comment */ DELETE FROM t", "DELETE"),
        ("/* /* */ SELECT */ DELETE FROM t", "DELETE"),
        ("-- only a comment", ""),
        ("/* never closed SELECT", ""),
        ("copy t to '/tmp/x'", "COPY"),
    ],
)
def test_leading_keyword_skips_comments_like_postgresql(sql: str, keyword: str) -> None:
    assert leading_keyword(sql) == keyword


@pytest.mark.parametrize(
    "sql", ["SELECT 1", "TABLE customers", "SHOW work_mem", "EXPLAIN SELECT 1"]
)
def test_reading_statements_pass(sql: str) -> None:
    check_statement(sql)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "sql: must not be empty"),
        ("   ", "sql: must not be empty"),
        ("DO $$ BEGIN END $$", "this one starts with DO"),
        ("COPY t TO STDOUT", "this one starts with COPY"),
        ("-- nothing", "this one starts with no keyword"),
        ("SET statement_timeout = 0", "this one starts with SET"),
        ("SELECT 1\x00; DELETE FROM t", "sql: must not contain NUL \\(U\\+0000\\) at index 8"),
    ],
)
def test_other_statements_are_refused_with_the_reason(sql: str, message: str) -> None:
    with pytest.raises(StatementRefused, match=message):
        check_statement(sql)
