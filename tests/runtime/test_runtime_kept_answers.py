"""The fast path's kept answers (guard verdicts, Accept verdicts, envelope connections) are
bounded: a client sending a new value on every request cannot grow them."""

from __future__ import annotations

import pytest
from mcp_runtime.fast_path.envelope_connections import _KEPT, EnvelopeConnections
from mcp_runtime.fast_path.kept_answers import KeptAnswers


def test_an_answer_is_kept_by_its_key() -> None:
    kept: KeptAnswers[str, int] = KeptAnswers(4)
    assert kept.get("a") is None
    assert kept.keep("a", 1) == 1
    assert (kept.get("a"), kept.get("b")) == (1, None)


def test_a_full_store_forgets_every_answer_before_keeping_the_next() -> None:
    kept: KeptAnswers[int, int] = KeptAnswers(3)
    for key in range(3):
        kept.keep(key, key)
    assert len(kept) == 3
    kept.keep(3, 3)
    assert len(kept) == 1
    assert [kept.get(key) for key in range(4)] == [None, None, None, 3]


def test_a_flood_of_keys_stays_within_the_size() -> None:
    kept: KeptAnswers[int, int] = KeptAnswers(16)
    for key in range(1000):
        kept.keep(key, key)
        assert len(kept) <= 16


@pytest.mark.parametrize("size", [0, -1])
def test_a_size_under_one_is_refused_naming_it(size: int) -> None:
    with pytest.raises(ValueError, match=f"size must be at least 1, not {size}"):
        KeptAnswers(size)


async def test_a_flood_of_envelopes_keeps_at_most_the_bound_and_answers_each_right() -> None:
    connections = EnvelopeConnections()
    for number in range(3 * _KEPT):
        info = {"name": f"client-{number}", "version": "1"}
        built = connections.connection("2026-07-28", info, {})
        assert built.client_params is not None
        assert built.client_params.client_info.name == f"client-{number}"
        assert len(connections._built) <= _KEPT
