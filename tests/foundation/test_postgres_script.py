"""scripts/postgres.sh: the private PostgreSQL and its read-only role for the SQL server."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from harness.postgres_script import postgres_script


def _in_database(url: str, database: str) -> str:
    return urlsplit(url)._replace(path=f"/{database}").geturl()


async def _reads_only_its_tables(reader_url: str, table: str) -> None:
    reader = await asyncpg.connect(reader_url)
    try:
        assert await reader.fetchval(f"SELECT n FROM {table}") == 7
        assert not await reader.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        assert not await reader.fetchval("SELECT pg_has_role('pg_read_all_data', 'MEMBER')")
        for sql in (
            f"INSERT INTO {table} VALUES (8)",
            "SELECT pg_read_file('/etc/hostname')",
            # Password hashes: what pg_read_all_data would let it read.
            "SELECT rolname, rolpassword FROM pg_authid",
            "SELECT usename, passwd FROM pg_shadow",
            # Signals to its own backends, which every caller of the SQL server shares.
            "SELECT pg_cancel_backend(pg_backend_pid())",
            "SELECT pg_terminate_backend(pg_backend_pid())",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute(sql)
    finally:
        await reader.close()


async def test_reader_role_reads_new_tables_and_no_credentials(
    postgres_url: str, postgres_reader_url: str
) -> None:
    # Created after the role: default privileges, not a one-off grant, make it readable.
    table = f"reader_probe_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE TABLE {table} (n int); INSERT INTO {table} VALUES (7)")
        assert postgres_script("reader-url") == postgres_reader_url, "a second call reuses it"
        await _reads_only_its_tables(postgres_reader_url, table)
    finally:
        await admin.execute(f"DROP TABLE {table}")
        await admin.close()


async def test_reader_role_recipe_holds_in_databases_created_later(
    postgres_url: str, postgres_reader_url: str
) -> None:
    # The tests' databases: CREATE DATABASE copies template1, which holds the recipe.
    database = f"reader_probe_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE DATABASE {database}")
        owner = await asyncpg.connect(_in_database(postgres_url, database))
        try:
            await owner.execute("CREATE TABLE probe (n int); INSERT INTO probe VALUES (7)")
        finally:
            await owner.close()
        await _reads_only_its_tables(_in_database(postgres_reader_url, database), "probe")
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        await admin.close()


def test_unknown_command_prints_usage(repo_root: Path) -> None:
    result = subprocess.run(
        ["bash", str(repo_root / "scripts" / "postgres.sh"), "restart-everything"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr and "reader-url" in result.stderr
