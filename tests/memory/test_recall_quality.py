"""Semantic recall through the real server: a paraphrase finds the sentence it paraphrases."""

from __future__ import annotations

import pytest
from harness.memory import MemoryProcess

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


@pytest.fixture(scope="module")
async def stored_ids(sqlite_server: MemoryProcess) -> dict[str, str]:
    async with sqlite_server.client() as client:
        result = await client.call_tool(
            "remember_many",
            {"items": [{"text": text, "tags": ["corpus"]} for text in CORPUS]},
        )
    return {m["text"]: m["id"] for m in result.structured_content["memories"]}


@pytest.mark.parametrize("source", list(CORPUS), ids=lambda s: s[:30])
async def test_paraphrase_ranks_its_source_first(
    sqlite_server: MemoryProcess, stored_ids: dict[str, str], source: str
) -> None:
    async with sqlite_server.client() as client:
        result = await client.call_tool("recall", {"query": CORPUS[source], "k": 3})
    hits = result.structured_content["memories"]
    assert hits[0]["id"] == stored_ids[source], [h["text"] for h in hits]
    assert hits[0]["score"] > hits[1]["score"]
    assert 0 < hits[0]["score"] <= 1


async def test_scores_separate_related_from_unrelated(
    sqlite_server: MemoryProcess, stored_ids: dict[str, str]
) -> None:
    async with sqlite_server.client() as client:
        result = await client.call_tool(
            "recall", {"query": "How do I bake sourdough bread?", "k": 1, "tags": ["corpus"]}
        )
    (best,) = result.structured_content["memories"]
    assert best["score"] < 0.3
