"""Every image under the chart's pod contract: non-root, read-only root, no capabilities.

Each case renders a values file through the chart and runs the image with the resulting
security context, environment, mounted ConfigMaps and preStop hook (see container.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
import pytest
from container import Container, run_pod
from fastmcp import Client
from pod_spec import pod_spec
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.docker


async def exercise_todo(client: Client) -> str:
    created = await client.call_tool("create_task", {"title": "ship the images"})
    assert created.structured_content["title"] == "ship the images"
    page = await client.call_tool("list_tasks", {})
    assert [t["title"] for t in page.structured_content["tasks"]] == ["ship the images"]
    return "create_task"


async def exercise_postgres(client: Client) -> str:
    result = await client.call_tool("query", {"sql": "SELECT 6 * 7 AS answer"})
    assert result.structured_content["rows"] == [{"answer": 42}]
    return "query"


async def exercise_memory(client: Client) -> str:
    await client.call_tool("remember", {"text": "The deploy window is Tuesday at 14:00 UTC."})
    await client.call_tool("remember", {"text": "Bananas are rich in potassium."})
    recalled = await client.call_tool("recall", {"query": "When may we ship to production?"})
    memories = recalled.structured_content["memories"]
    assert memories[0]["text"] == "The deploy window is Tuesday at 14:00 UTC."
    return "recall"


async def exercise_greeter(client: Client) -> str:
    # The helm test call of values/greeter-code.yaml: code mounted from its ConfigMap.
    result = await client.call_tool("greet", {"name": "helm"})
    assert result.data == "Hello, helm!"
    return "greet"


async def exercise_time(client: Client) -> str:
    result = await client.call_tool("get_current_time", {"timezone": "Europe/Paris"})
    assert json.loads(result.content[0].text)["timezone"] == "Europe/Paris"
    return "get_current_time"


async def exercise_everything(client: Client) -> str:
    result = await client.call_tool("echo", {"message": "through the bridge"})
    assert result.content[0].text == "Echo: through the bridge"
    return "echo"


async def exercise_filesystem(client: Client) -> str:
    await client.call_tool("write_file", {"path": "/data/note.txt", "content": "kept on a claim"})
    result = await client.call_tool("read_text_file", {"path": "/data/note.txt"})
    assert result.content[0].text == "kept on a claim"
    # Only /data is allowed: the root filesystem is not the server's to read.
    refused = await client.call_tool(
        "read_text_file", {"path": "/etc/passwd"}, raise_on_error=False
    )
    assert refused.is_error
    return "read_text_file"


async def exercise_knowledge_graph(client: Client) -> str:
    entity = {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}
    await client.call_tool("create_entities", {"entities": [entity]})
    result = await client.call_tool("read_graph", {})
    assert "wrote the first program" in result.content[0].text
    return "read_graph"


async def exercise_git(client: Client) -> str:
    result = await client.call_tool("git_status", {"repo_path": "/data/repo"})
    assert "On branch" in result.content[0].text
    return "git_status"


async def exercise_fetch(client: Client) -> str:
    # No internet here, so the call shows the server's own guard: a loopback URL (the bridge's
    # port in the same container, which would answer) is refused before anything is fetched.
    refused = await client.call_tool(
        "fetch", {"url": "http://127.0.0.1:8010/health"}, raise_on_error=False
    )
    assert refused.is_error
    text = refused.content[0].text
    assert "127.0.0.1 resolves to 127.0.0.1, which is not a public address" in text, text
    return "fetch"


@dataclass(frozen=True)
class Case:
    values_file: str
    # Whom DATABASE_URL connects as: the owner of a fresh database, its read-only role, or
    # nobody (empty, the chart's "unset").
    database: Literal["owner", "reader"] | None
    exercise: Callable[[Client], Awaitable[str]]
    # How the exercise's last call is counted in mcp_tool_calls_total.
    outcome: Literal["ok", "error"] = "ok"
    # Environment set beside the chart's, as a values file's `env` would.
    env: tuple[tuple[str, str], ...] = ()


CASES = {
    "todo": Case("todo.yaml", database="owner", exercise=exercise_todo),
    "todo-sqlite": Case("todo.yaml", database=None, exercise=exercise_todo),
    "postgres": Case("postgres.yaml", database="reader", exercise=exercise_postgres),
    "memory": Case("memory-cpu.yaml", database=None, exercise=exercise_memory),
    # The model the image build derives (mcp_memory.model_derivation) is in the image.
    "memory-dynamic-int8": Case(
        "memory-cpu.yaml",
        database=None,
        exercise=exercise_memory,
        env=(("MEMORY_MODEL", "all-MiniLM-L6-v2-dynamic-int8"),),
    ),
    "runtime": Case("greeter-code.yaml", database=None, exercise=exercise_greeter),
    # The stdio catalog's images that run here: the community server behind mcp-bridge.
    "time": Case("time.yaml", database=None, exercise=exercise_time),
    "everything": Case("everything.yaml", database=None, exercise=exercise_everything),
    "filesystem": Case("filesystem.yaml", database=None, exercise=exercise_filesystem),
    "knowledge-graph": Case(
        "knowledge-graph.yaml", database=None, exercise=exercise_knowledge_graph
    ),
    "git": Case("git.yaml", database=None, exercise=exercise_git),
    "fetch": Case("fetch.yaml", database=None, exercise=exercise_fetch, outcome="error"),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def pod(
    request: pytest.FixtureRequest,
    repo_root: Path,
    built_images: str,
    new_database: Callable[[], str],
    postgres_reader_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Case, Container]]:
    case = CASES[request.param]
    spec = pod_spec(repo_root, case.values_file)
    spec = dataclasses.replace(spec, env={**spec.env, **dict(case.env)})
    # An empty DATABASE_URL is how the chart's secret says "unset": SQLite under /tmp.
    secrets = {key: "" for key in spec.secret_keys}
    if case.database:
        url = new_database()
        if case.database == "reader":
            url = urlsplit(postgres_reader_url)._replace(path=urlsplit(url).path).geturl()
        secrets["DATABASE_URL"] = url
    container = run_pod(spec, tmp_path_factory.mktemp(request.param), secrets)
    try:
        container.wait_ready()
        yield case, container
    finally:
        container.remove()


def test_health_and_ready_answer_200(pod: tuple[Case, Container]) -> None:
    _, container = pod
    assert httpx.get(f"{container.base_url}/health", timeout=5).status_code == 200
    assert httpx.get(f"{container.base_url}/ready", timeout=5).status_code == 200


async def test_tool_call_over_the_published_port(pod: tuple[Case, Container]) -> None:
    case, container = pod
    async with Client(f"{container.base_url}/mcp") as client:
        tool = await case.exercise(client)
    metrics = httpx.get(container.metrics_url, timeout=5)
    assert metrics.status_code == 200
    # Not on the port clients reach.
    assert httpx.get(f"{container.base_url}/metrics", timeout=5).status_code == 404
    calls = {
        (sample.labels["tool"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
        if sample.name == "mcp_tool_calls_total"
    }
    assert calls.get((tool, case.outcome), 0) >= 1, metrics.text


def test_sigterm_exits_0_within_the_grace_period(pod: tuple[Case, Container]) -> None:
    _, container = pod
    code, seconds = container.terminate()
    logs = container.logs()
    assert code == 0, f"exit code {code}:\n{logs[-3000:]}"
    assert seconds < container.spec.grace_seconds, f"took {seconds:.1f} s:\n{logs[-3000:]}"
