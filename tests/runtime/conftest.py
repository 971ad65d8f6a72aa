"""Fixtures starting servers on the shared runtime as real processes on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.processes import ServerProcess
from harness.runtime import StartServer, launch


@contextmanager
def server_starter(log_dir: Path) -> Iterator[StartServer]:
    started: list[ServerProcess] = []

    def start(
        env: Mapping[str, str] | None = None, command: list[str] | None = None
    ) -> ServerProcess:
        server = launch(log_dir, env or {}, command)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers that live for one test: `start_server(env={...}, command=[...])`."""
    with server_starter(tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Start servers shared by the tests of one module (starting one takes seconds)."""
    with server_starter(tmp_path_factory.mktemp("servers")) as start:
        yield start


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One stateless sample server shared by tests that only read from it."""
    server = launch(tmp_path_factory.mktemp("sample"), {}, None)
    yield server
    server.kill()
