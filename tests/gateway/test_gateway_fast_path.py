"""The runtime's fast path serves the gateway's tools exactly as FastMCP's proxy does.

As in tests/bridge/test_bridge_fast_path.py, each request goes twice to one in-process
gateway in front of real upstream processes: once with the fast path on, where a call of
either generation goes to the upstream as one 2026-07-28 POST (`RelayedCalls` and the
upstream's tool relay), and once with it off, through FastMCP's proxy, which calls the
upstream in the caller's generation. Status, body, metric updates and log records must be
identical, bar what only says which generation the upstream was called in. The witness
upstream answers with the headers it was called with, so what reaches the upstream is
compared too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastmcp.server.dependencies import get_http_headers
from gateway_in_process import in_process_gateway
from harness import runtime
from harness.in_process import (
    SESSION_HEADERS,
    Answer,
    Request,
    Served,
    both_ways,
    modern_request,
    session_request,
)
from harness.processes import ServerProcess
from wrapped_upstream import (
    Seen,
    gzipped_events,
    recording,
    wrapped_upstream,
)

# A stateless gateway relays both generations' calls to an upstream that speaks 2026-07-28.
GENERATIONS = {"session-less": "relayed", "session-based": "relayed"}


def tool_call(generation: str, tool: str, arguments: dict[str, Any]) -> Request:
    call = {"name": tool, "arguments": arguments}
    if generation == "session-less":
        return modern_request("tools/call", call, request_id="call-1")
    return SESSION_HEADERS, session_request("tools/call", call, request_id="call-1")


@pytest.fixture
async def served(sample: ServerProcess, witness: ServerProcess) -> AsyncIterator[Served]:
    async with in_process_gateway({"sample": sample, "witness": witness}) as served:
        yield served


CALLS = {
    "a result": ("sample_echo", {"text": "hi"}),
    "a tool error": ("sample_fail", {"reason": "no"}),
    "the upstream's protocol": ("sample_protocol_version", {}),
    "bad arguments": ("sample_echo", {"text": 1, "extra": True}),
    "an unknown tool": ("sample_nothing", {}),
    "what reached the upstream": ("witness_headers", {}),
    "an ask for input": ("witness_asks", {}),
}


# What only the generation the upstream is called in changes: the version it reports, and
# the headers that are the 2026-07-28 request's own (or the 2025-11-25 session's).
SAYS_THE_UPSTREAMS_GENERATION = {"the upstream's protocol", "what reached the upstream"}
GENERATION_HEADERS = {"mcp-method", "mcp-name", "mcp-session-id"}
# A 2025-11-25 client's first request is its handshake: FastMCP says a failed one failed it.
HANDSHAKE_FAILED = "Client failed to connect: "


def generation_blind(answer: Answer) -> Answer:
    """`answer` with the upstream's generation taken out of what the upstream said."""

    def blind(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: blind(v) for k, v in value.items() if k not in GENERATION_HEADERS}
        if isinstance(value, list):
            return [blind(item) for item in value]
        if isinstance(value, str) and value.startswith("{"):
            return json.dumps(blind(json.loads(value)))
        if isinstance(value, str):
            return value.replace("2025-11-25", "2026-07-28").replace(HANDSHAKE_FAILED, "")
        return value

    return replace(answer, body=blind(answer.body))


@pytest.mark.parametrize("generation", GENERATIONS)
@pytest.mark.parametrize("call", CALLS)
async def test_calls_match_fastmcps_proxy(served: Served, generation: str, call: str) -> None:
    tool, arguments = CALLS[call]
    headers, body = tool_call(generation, tool, arguments)
    fast, slow = await both_ways(
        served, {**headers, "authorization": "Bearer caller-1", "x-caller": "one"}, body
    )
    if call == "an ask for input" and generation == "session-less":
        # The gateway seals the upstream's request state, afresh each time, on either way.
        # A sealed token is random text, so "s1" may appear in it by chance; what shows the
        # sealing is the envelope, the upstream's own state nowhere as is, and a fresh nonce.
        states = [answer.body["result"].pop("requestState") for answer in (fast, slow)]
        assert all(state.startswith("v1.") and state != "s1" for state in states)
        assert states[0] != states[1]
    if generation == "session-based" and call in SAYS_THE_UPSTREAMS_GENERATION:
        # The fast path calls the upstream in 2026-07-28, FastMCP's proxy in the caller's.
        assert fast != slow
        fast, slow = generation_blind(fast), generation_blind(slow)
    assert fast == slow, (fast, slow)
    if call == "an unknown tool":  # FastMCP's to refuse, by the SDK's kernel or FastMCP
        assert served.route in {"kernel", "fastmcp"}
    else:
        assert served.route == GENERATIONS[generation]


async def test_each_relayed_call_carries_its_own_callers_headers(served: Served) -> None:
    seen = []
    for caller in ("caller-1", "caller-2", "caller-1"):
        headers, body = tool_call("session-less", "witness_headers", {})
        response = await served.http.post(
            "/mcp", headers={**headers, "authorization": f"Bearer {caller}"}, content=body
        )
        seen.append(response.json()["result"]["structuredContent"]["authorization"])
    assert seen == ["Bearer caller-1", "Bearer caller-2", "Bearer caller-1"]
    assert served.relayed_calls == 3


async def test_an_upstream_gone_fails_its_calls_as_fastmcps_proxy_does(tmp_path: Path) -> None:
    upstream = runtime.launch(tmp_path, {}, None)
    try:
        # Without the circuit, which would fail the later calls at once (the next test).
        async with in_process_gateway(
            {"gone": upstream}, circuit_breaker={"failures": 0}
        ) as served:
            upstream.stop()
            # The first failed call marks the upstream down (an event of its own).
            await both_ways(served, *tool_call("session-less", "gone_echo", {"text": "x"}))
            for generation in GENERATIONS:
                fast, slow = await both_ways(
                    served, *tool_call(generation, "gone_echo", {"text": "x"})
                )
                assert served.route == GENERATIONS[generation]
                assert generation_blind(fast) == generation_blind(slow)
                text = fast.body["result"]["content"][0]["text"]
                assert text.startswith("upstream 'gone' is unavailable: ")
    finally:
        upstream.stop()


async def test_looking_the_tools_up_again_is_not_part_of_the_call_that_found_them_stale(
    served: Served,
) -> None:
    # A gateway lists every upstream to look its tools up: with the caller's headers, the
    # upstreams would see the listing as the caller's, and a tracing caller a span of it.
    listings_saw = []
    list_tools = served.mcp.list_tools

    async def listing(*args: Any, **kwargs: Any) -> Any:
        listings_saw.append(get_http_headers(include={"authorization"}))
        return await list_tools(*args, **kwargs)

    served.mcp.list_tools = listing  # type: ignore[method-assign]
    served.fast_path._calls.stale = True
    headers, body = tool_call("session-less", "sample_nothing", {})
    await served.http.post("/mcp", headers={**headers, "authorization": "Bearer x"}, content=body)
    assert listings_saw == [{}]


async def test_a_gzipped_event_stream_answer_is_decompressed_once() -> None:
    # As a TypeScript SDK server behind Express' compression() answers: an event stream,
    # gzipped. It was decompressed twice, failed as unreachable, and opened the circuit.
    with wrapped_upstream(gzipped_events) as upstream:
        async with in_process_gateway({"streams": upstream}) as served:
            headers, body = tool_call("session-less", "streams_echo", {"text": "hi"})
            response = await served.http.post("/mcp", headers=headers, content=body)
    assert served.relayed_calls == 1
    result = response.json()["result"]
    assert not result["isError"], result
    assert result["content"] == [{"type": "text", "text": "hi"}]


@pytest.mark.parametrize("generation", GENERATIONS)
async def test_the_upstream_is_asked_for_the_encodings_the_gateway_reads(generation: str) -> None:
    # A caller's own (br, zstd) would come back in an encoding the gateway cannot read.
    seen = Seen([])
    with wrapped_upstream(recording(seen)) as upstream:
        async with in_process_gateway({"seen": upstream}) as served:
            headers, body = tool_call(generation, "seen_echo", {"text": "hi"})
            fast, slow = await both_ways(
                served, {**headers, "accept-encoding": "gzip, deflate, br, zstd"}, body
            )
    for answer in (fast, slow):
        assert answer.body["result"]["content"] == [{"type": "text", "text": "hi"}], answer
    calls = [headers for method, headers in seen.requests if method == "tools/call"]
    assert len(calls) == 2
    assert {headers["accept-encoding"] for headers in calls} == {"gzip, deflate"}
