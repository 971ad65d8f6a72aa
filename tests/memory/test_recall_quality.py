"""Semantic recall through the real server, with each embedding model (MEMORY_MODEL): a
paraphrase finds the sentence it paraphrases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness.memory import MemoryProcess
from mcp_memory.embedding_models import DEFAULT_MODEL, DYNAMIC_INT8

# Each stored sentence, and a query that says the same with (mostly) other words.
CORPUS = {
    "The production database backup runs every night at 2 AM.": (
        "When does the nightly backup of the prod DB happen?"
    ),
    "Alice prefers to be contacted on Slack rather than by email.": (
        "What's the best way to reach Alice, chat or mail?"
    ),
    "Our office cat is named Biscuit and loves sleeping on keyboards.": (
        "the pet kitty at work that naps on the computer keyboard"
    ),
    "The API rate limit is 100 requests per minute per token.": (
        "how many calls per minute can one token make to the API"
    ),
    "Kubernetes pods are restarted when the liveness probe fails.": (
        "a failing liveness check makes the cluster restart the container"
    ),
    "Bob is allergic to peanuts, so avoid them when ordering lunch.": (
        "food allergy to keep in mind for the team lunch order"
    ),
    "The quarterly planning meeting moved from Monday to Thursday.": (
        "the quarterly planning session was rescheduled to Thursday"
    ),
    "Use the staging cluster in eu-west-1 for load testing.": (
        "which environment should I run performance tests against"
    ),
    "The invoice for the March consulting work is still unpaid.": (
        "we haven't received payment for March's consulting bill"
    ),
    "The frontend is written in TypeScript with React.": (
        "what language and framework is the web UI built with"
    ),
    "Rotate the TLS certificates before they expire in October.": (
        "renew the HTTPS certs ahead of their autumn expiry"
    ),
    "My flight to Lisbon leaves on the 14th from gate B22.": (
        "when is my plane to Portugal departing"
    ),
}


@pytest.fixture(scope="module", params=[DEFAULT_MODEL, DYNAMIC_INT8])
def model_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MemoryProcess]:
    """A server on its own SQLite file running one embedding model."""
    base = tmp_path_factory.mktemp("memory")
    env = {"MCP_DATA_DIR": str(base / "data"), "MEMORY_MODEL": request.param}
    server = MemoryProcess(env=env, log_path=base / "server.log")
    server.start().wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def stored_ids(model_server: MemoryProcess) -> dict[str, str]:
    async with model_server.client() as client:
        result = await client.call_tool(
            "remember_many",
            {"items": [{"text": text, "tags": ["corpus"]} for text in CORPUS]},
        )
    return {m["text"]: m["id"] for m in result.structured_content["memories"]}


async def test_the_server_runs_the_model_it_was_given(
    model_server: MemoryProcess, stored_ids: dict[str, str]
) -> None:
    async with model_server.client() as client:
        stats = (await client.call_tool("stats", {})).structured_content
    assert stats["model"] == model_server.env["MEMORY_MODEL"]
    assert stats["memories"] == len(CORPUS)


@pytest.mark.parametrize("source", list(CORPUS), ids=lambda s: s[:30])
async def test_paraphrase_ranks_its_source_first(
    model_server: MemoryProcess, stored_ids: dict[str, str], source: str
) -> None:
    async with model_server.client() as client:
        result = await client.call_tool("recall", {"query": CORPUS[source], "k": 3})
    hits = result.structured_content["memories"]
    assert hits[0]["id"] == stored_ids[source], [h["text"] for h in hits]
    assert hits[0]["score"] > hits[1]["score"]
    assert 0 < hits[0]["score"] <= 1


async def test_scores_separate_related_from_unrelated(
    model_server: MemoryProcess, stored_ids: dict[str, str]
) -> None:
    async with model_server.client() as client:
        result = await client.call_tool(
            "recall", {"query": "How do I bake sourdough bread?", "k": 1, "tags": ["corpus"]}
        )
    (best,) = result.structured_content["memories"]
    assert best["score"] < 0.3
