"""scripts/postgres.sh: the private PostgreSQL and its read-only role for the SQL server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncpg
import pytest
from harness.postgres_script import postgres_script


async def test_reader_role_reads_but_is_no_superuser(
    postgres_url: str, postgres_reader_url: str
) -> None:
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute("CREATE TABLE IF NOT EXISTS reader_probe (n int)")
        await admin.execute("TRUNCATE reader_probe; INSERT INTO reader_probe VALUES (7)")
    finally:
        await admin.close()

    assert postgres_script("reader-url") == postgres_reader_url, "a second call reuses the role"
    reader = await asyncpg.connect(postgres_reader_url)
    try:
        assert await reader.fetchval("SELECT n FROM reader_probe") == 7
        assert not await reader.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("INSERT INTO reader_probe VALUES (8)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.fetchval("SELECT pg_read_file('/etc/hostname')")
    finally:
        await reader.close()


def test_unknown_command_prints_usage(repo_root: Path) -> None:
    result = subprocess.run(
        ["bash", str(repo_root / "scripts" / "postgres.sh"), "restart-everything"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr and "reader-url" in result.stderr
