"""The throwaway PostgreSQL of cluster/manifests/ (ct install, the e2e tests, make demo) gives
the read-only SQL server a role it serves through: its init.sql run on a PostgreSQL of its own
here, the todo server's tables created afterwards, and mcp-postgres started with the URL of
database-secrets.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from harness.mcp_clients import connect
from harness.processes import free_port
from harness.servers import launch
from pg_admin import psql
from private_postgres import PrivatePostgres, _as_owner, _pg_bin

MANIFESTS = Path(__file__).resolve().parents[2] / "cluster" / "manifests"


def _documents(name: str) -> list[dict]:
    return list(yaml.safe_load_all((MANIFESTS / name).read_text()))


def _init_sql() -> str:
    secret = next(d for d in _documents("postgresql.yaml") if d["kind"] == "Secret")
    return secret["stringData"]["init.sql"]


def _postgres_server_url() -> str:
    secret = next(
        d
        for d in _documents("database-secrets.yaml")
        if d["metadata"]["name"] == "mcp-postgres-database"
    )
    return secret["stringData"]["DATABASE_URL"]


@pytest.fixture
def cluster_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL whose superuser is `postgres`, as in the cluster's image."""
    base = Path(tempfile.mkdtemp(prefix="mcp-pg-recipe-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
    cluster = PrivatePostgres(base=base, port=free_port())
    initdb = [str(_pg_bin() / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust"]
    subprocess.run(_as_owner(initdb), check=True, capture_output=True, timeout=120)
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write("listen_addresses = '127.0.0.1'\nfsync = off\n")
    cluster.start()
    yield cluster
    cluster.destroy()


async def test_the_cluster_reader_is_served_and_reads_tables_made_later(
    cluster_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    admin = f"postgresql://postgres@127.0.0.1:{cluster_postgres.port}"
    script = tmp_path / "init.sql"
    script.write_text(_init_sql())
    subprocess.run(
        ["psql", f"{admin}/postgres", "-v", "ON_ERROR_STOP=1", "-q", "-f", str(script)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    # What the todo server does once it runs: its own tables, as the database's owner.
    owner = f"postgresql://mcp@127.0.0.1:{cluster_postgres.port}/todo"
    psql(owner, "CREATE TABLE tasks (title text); INSERT INTO tasks VALUES ('ship it')")

    url = urlsplit(_postgres_server_url())
    local = url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{cluster_postgres.port}")
    server = launch("mcp-postgres", tmp_path, {"DATABASE_URL": local.geturl()})
    try:
        ready = httpx.get(f"{server.base_url}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        async with connect("fastmcp-modern", server.mcp_url) as client:
            tasks = await client.call("query", {"sql": "SELECT title FROM tasks"})
            hashes = await client.call("query", {"sql": "SELECT rolpassword FROM pg_authid"})
        assert tasks.data["rows"] == [{"title": "ship it"}], tasks.text
        assert hashes.is_error and "permission denied for table pg_authid" in hashes.text
        assert "postgres_role_" not in server.log_text()
    finally:
        server.stop()
