"""Fixtures for the todo and postgres servers: databases, running servers, the Inspector."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator

import pytest
from harness.npm import inspector_cli, install_inspector
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
def inspector() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the pinned MCP Inspector CLI: `inspector(URL, "--method", "tools/list", ...)`."""
    install_inspector()
    return inspector_cli
