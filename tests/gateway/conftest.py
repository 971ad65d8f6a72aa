"""Fixtures: real upstreams (mcp-todo on SQLite, the runtime's sample server, a witness of
who calls it) and gateways."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from gateway_env import StartGateway, upstreams_env
from harness import runtime, servers
from harness.processes import ServerProcess

WITNESS_SERVER = Path(__file__).with_name("witness_server.py")


@pytest.fixture(scope="module")
def todo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    logs = tmp_path_factory.mktemp("todo")
    server = servers.launch("mcp-todo", logs, {"MCP_DATA_DIR": str(logs / "data")})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = runtime.launch(tmp_path_factory.mktemp("sample"), {}, None)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def witness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = runtime.launch(
        tmp_path_factory.mktemp("witness"), {}, [sys.executable, str(WITNESS_SERVER)]
    )
    yield server
    server.stop()


@pytest.fixture
def start_gateway(tmp_path: Path) -> Iterator[StartGateway]:
    """`start_gateway({"todo": {"url": ...}}, ready=True, env={...})`: lives for one test."""
    started: list[ServerProcess] = []

    def start(
        upstreams: Mapping[str, object],
        ready: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> ServerProcess:
        server = ServerProcess(
            [str(servers.VENV_BIN / "mcp-gateway")],
            {**upstreams_env(upstreams), **(env or {})},
            tmp_path / f"gateway-{len(started)}.log",
        ).start()
        started.append(server)
        server.wait_until_answering("/health")
        if ready:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
