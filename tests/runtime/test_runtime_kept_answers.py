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


def test_a_relays_relisted_schemas_are_let_go() -> None:
    # Each listing of a relay's tools brings new input schema objects: the verdicts on the old
    # ones (which keep those schemas alive) must not pile up.
    from types import SimpleNamespace

    from mcp_runtime.fast_path.endpoint import _SCHEMA_VERDICTS, FastPath
    from mcp_types import JSONRPCRequest

    fast_path = FastPath(None, None, None)  # type: ignore[arg-type]
    call = JSONRPCRequest(jsonrpc="2.0", id=1, method="tools/call", params={"name": "echo"})
    for listing in range(2 * _SCHEMA_VERDICTS):
        schema = {"type": "object", "properties": {"text": {"type": "string"}}, "n": listing}
        manager = SimpleNamespace(app=SimpleNamespace(get_tool_input_schema=lambda _, s=schema: s))
        assert fast_path._may_reject_param_headers(manager, call) is False  # type: ignore[arg-type]
        assert len(fast_path._header_free_schemas) <= _SCHEMA_VERDICTS
