"""The reference backend (mcp-todo-backend) over a real mcp-todo: its API, and what its
callers see when the todo server goes away and comes back."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from conftest import FAST
from harness import processes, servers
from harness.processes import ServerProcess
from mcp_backend_client import Resilience
from mcp_todo_backend.app import create_app
from mcp_todo_backend.settings import BackendSettings

# What the issue asks of an open breaker: an answer in under 50 ms. In process, without the
# network, it takes about a millisecond; the median of many keeps one descheduled request on
# a busy CI machine from deciding the test.
OPEN_BREAKER_SECONDS = 0.05

# A dead server fails at once (the connection is closed), so only the breaker's numbers
# matter here; the timeout leaves a busy machine time for the calls before and after.
OUTAGE = FAST.model_copy(update={"timeout_seconds": 3.0})


@asynccontextmanager
async def backend(
    todo_url: str, resilience: Resilience | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The backend app in this process, its lifespan run, behind an HTTP client."""
    app = create_app(BackendSettings(todo_url=todo_url, resilience=resilience or Resilience()))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://backend"
        ) as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        yield http


async def test_api_tasks(todo: ServerProcess) -> None:
    async with backend(todo.base_url) as http:
        created = await http.post("/api/tasks", json={"title": "Write the report"})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        assert (await http.get(f"/api/tasks/{task_id}")).json()["title"] == "Write the report"
        completed = await http.post(f"/api/tasks/{task_id}/complete")
        assert completed.json()["status"] == "done"
        listed = await http.get("/api/tasks", params={"status": "done"})
        assert task_id in [task["id"] for task in listed.json()["tasks"]]
        assert (await http.get("/api/tasks/999999999")).status_code == 404
        assert (await http.post("/api/tasks", json={"title": ""})).status_code == 422
        assert (await http.get("/ready")).json()["todo_breaker"] == "closed"


class RefusingListener:
    """Listens where the todo server was, counting connections and closing each at once."""

    def __init__(self) -> None:
        self.connections = 0

    def accept(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()


@pytest.fixture
def own_todo(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    """An mcp-todo of this test's own, to stop and start again on its port."""
    data = tmp_path / "data"
    server = servers.launch("mcp-todo", tmp_path, {"MCP_DATA_DIR": str(data)})
    yield server, data
    server.kill()


async def test_outage_open_breaker_and_recovery(
    own_todo: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    todo, data = own_todo
    async with backend(todo.base_url, OUTAGE) as http:
        created = await http.post("/api/tasks", json={"title": "Before the outage"})
        assert created.status_code == 201

        # Down: a listener on its port takes each connection and closes it.
        todo.stop()
        listener = RefusingListener()
        tcp = await asyncio.start_server(listener.accept, processes.LOOPBACK, todo.port)
        for _ in range(OUTAGE.breaker_failure_threshold):
            started = time.monotonic()
            answer = await http.get("/api/tasks")
            assert answer.status_code == 503
            assert int(answer.headers["Retry-After"]) >= 1
            # All attempts within their timeouts, the backoffs, and room for a busy machine.
            assert time.monotonic() - started < OUTAGE.timeout_seconds * OUTAGE.retry_attempts + 1
            if http.app.state.todo.breaker_state == "open":  # type: ignore[attr-defined]
                break
        assert http.app.state.todo.breaker_state == "open"  # type: ignore[attr-defined]
        assert listener.connections > 0

        # Open: answered at once, and nothing reaches the network.
        seen = listener.connections
        durations = []
        for _ in range(20):
            started = time.monotonic()
            answer = await http.post("/api/tasks", json={"title": "During the outage"})
            durations.append(time.monotonic() - started)
            assert answer.status_code == 503
            assert 1 <= int(answer.headers["Retry-After"]) <= OUTAGE.breaker_reset_seconds + 1
        assert listener.connections == seen
        assert statistics.median(durations) < OPEN_BREAKER_SECONDS

        # Back on the same port and database: half-open, one trial, closed; no restart.
        tcp.close()
        await tcp.wait_closed()
        restarted = processes.launch(
            todo.argv, {"MCP_DATA_DIR": str(data)}, tmp_path / "restarted.log", port=todo.port
        )
        try:
            deadline = time.monotonic() + 10
            while (answer := await http.get("/api/tasks")).status_code != 200:
                assert time.monotonic() < deadline, answer.text
                await asyncio.sleep(0.2)
            titles = [task["title"] for task in answer.json()["tasks"]]
            assert titles == ["Before the outage"]
            assert http.app.state.todo.breaker_state == "closed"  # type: ignore[attr-defined]
        finally:
            restarted.kill()


def test_console_script(todo: ServerProcess, tmp_path: Path) -> None:
    port = processes.free_port()
    env = {
        "TODO_BACKEND_TODO_URL": todo.base_url,
        "TODO_BACKEND_HOST": processes.LOOPBACK,
        "TODO_BACKEND_PORT": str(port),
        "TODO_BACKEND_RESILIENCE__TIMEOUT_SECONDS": "2",
    }
    argv = [str(servers.VENV_BIN / "mcp-todo-backend")]
    with ServerProcess(argv, env, tmp_path / "backend.log", port=port) as server:
        server.wait_ready()
        created = httpx.post(f"{server.base_url}/api/tasks", json={"title": "From a process"})
        assert created.status_code == 201
        assert (
            server.metric(
                'mcp_backend_client_breaker_state{mcp_backend_client_breaker_state="closed",'
                'server="todo"}'
            )
            == 1
        )
