"""Fixtures for the todo and postgres servers: databases, running servers, the Inspector."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness.processes import ServerProcess
from harness.servers import launch
from pg_admin import SAMPLE_SCHEMA, psql, with_database
from private_postgres import PrivatePostgres, create_private_postgres


@pytest.fixture(scope="session")
def new_database(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Create an empty database in the shared PostgreSQL; returns its URL."""
    created: list[str] = []

    def create() -> str:
        name = f"servers_test_{uuid.uuid4().hex[:12]}"
        psql(postgres_url, f"CREATE DATABASE {name}")
        created.append(name)
        return with_database(postgres_url, name)

    yield create
    for name in created:
        psql(postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def sample_database(new_database: Callable[[], str]) -> str:
    url = new_database()
    psql(url, SAMPLE_SCHEMA)
    return url


@pytest.fixture(scope="module")
def todo_sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("todo-sqlite")
    server = launch("mcp-todo", logs, {"MCP_DATA_DIR": str(logs / "data")})
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def todo_postgres_server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], str]
) -> Iterator[ServerProcess]:
    server = launch(
        "mcp-todo", tmp_path_factory.mktemp("todo-pg"), {"DATABASE_URL": new_database()}
    )
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_server(
    tmp_path_factory: pytest.TempPathFactory, sample_database: str
) -> Iterator[ServerProcess]:
    # As the admin superuser, explicitly allowed: test_postgres_readonly's attacks need the
    # worst case, where only the statement guard and the read-only transaction stand guard.
    server = launch(
        "mcp-postgres",
        tmp_path_factory.mktemp("postgres-server"),
        {
            "DATABASE_URL": sample_database,
            "MCP_POSTGRES_ALLOW_SUPERUSER": "true",
            "MCP_QUERY_MAX_ROWS": "50",
            "MCP_QUERY_MAX_BYTES": "100000",
            "MCP_QUERY_TIMEOUT_SECONDS": "1",
        },
    )
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of its own, for tests that stop the database under a server."""
    cluster = create_private_postgres()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def inspector(repo_root: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the pinned MCP Inspector CLI (`npx @modelcontextprotocol/inspector --cli URL ...`).

    inspector/install.sh installs it from the lock file on first use.
    """
    folder = repo_root / "tests" / "servers" / "inspector"
    subprocess.run(["bash", str(folder / "install.sh")], check=True, timeout=600)

    def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
        # npx resolves the package from this folder's node_modules, so it never downloads.
        return subprocess.run(
            ["npx", "@modelcontextprotocol/inspector", "--cli", url, *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
