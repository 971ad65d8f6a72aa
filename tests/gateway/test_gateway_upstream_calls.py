"""The way a tool call reaches an upstream (UpstreamCalls): retries of calls that could not
connect, the deadline, the circuit breaker, and what each says and counts."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import fastmcp
import httpx
import httpx2
import mcp_types
import pytest
from exceptiongroup import catch
from fastmcp.exceptions import ToolError
from fastmcp.utilities.exceptions import get_catch_handlers
from gateway_env import StartGateway
from gateway_in_process import in_process_gateway
from harness import processes, runtime
from harness.gates import marker, wait_for
from harness.in_process import modern_request
from harness.processes import ServerProcess
from mcp.shared.exceptions import MCPError
from mcp_gateway.settings import Upstream
from mcp_gateway.upstream_calls import (
    UpstreamBusy,
    UpstreamCallMetrics,
    UpstreamCalls,
    UpstreamUnavailable,
)
from prometheus_client import CollectorRegistry
from wrapped_upstream import Switch, answering_while, wrapped_upstream

pytestmark = pytest.mark.timeout(180)


class Upstream_:
    """A stand-in for one upstream's answers: each call pops the next outcome."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def call(self) -> object:
        self.calls += 1
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def refused() -> httpx2.ConnectError:
    return httpx2.ConnectError("All connection attempts failed")


def wrapped_refusal() -> RuntimeError:
    # As FastMCP's client reports a failed connect: the httpx error is the cause.
    try:
        raise refused()
    except httpx2.ConnectError as error:
        wrapper = RuntimeError("Client failed to connect: All connection attempts failed")
        wrapper.__cause__ = error
        return wrapper


def fastmcps_connect_timeout() -> BaseException:
    """What FastMCP's client raises when it could not connect in time: its own words for it."""
    try:
        with catch(get_catch_handlers()):
            raise ExceptionGroup("task group", [httpx2.ConnectTimeout("timed out")])
    except MCPError as error:
        return error
    raise AssertionError("FastMCP's handlers let a connect timeout through")


class Calls:
    def __init__(self, **settings: object) -> None:
        self.registry = CollectorRegistry()
        self.answers: list[tuple[bool, str | None]] = []
        self.calls = UpstreamCalls(
            "todo",
            Upstream.model_validate({"url": "http://todo:8001/mcp", **settings}),
            lambda _, up, reason: self.answers.append((up, reason)),
            UpstreamCallMetrics(self.registry),
        )

    async def run(self, call: Callable[[], Awaitable[object]]) -> object:
        return await self.calls.run(call)

    def metric(self, name: str) -> float:
        value = self.registry.get_sample_value(name, {"server": "todo"})
        assert value is not None, name
        return value

    def circuit(self) -> str:
        """The state the circuit's metric shows."""
        states = {
            state
            for state in ("closed", "open", "half-open")
            if self.registry.get_sample_value(
                "mcp_gateway_upstream_circuit_state",
                {"server": "todo", "mcp_gateway_upstream_circuit_state": state},
            )
        }
        assert len(states) == 1, states
        return states.pop()


async def test_a_call_that_could_not_connect_is_tried_again_until_it_connects() -> None:
    calls = Calls(connect_retries=3)
    upstream = Upstream_(refused(), wrapped_refusal(), "answer")
    assert await calls.run(upstream.call) == "answer"
    assert upstream.calls == 3
    assert calls.metric("mcp_gateway_upstream_connect_retries_total") == 2
    assert calls.answers == [(True, None)]


async def test_retries_end_with_the_upstream_named_and_the_cause() -> None:
    calls = Calls(connect_retries=2)
    upstream = Upstream_(refused())
    with pytest.raises(UpstreamUnavailable, match=r"^upstream 'todo' is unavailable: All conn"):
        await calls.run(upstream.call)
    assert upstream.calls == 3
    assert calls.answers == [(False, "All connection attempts failed")]


async def test_a_connect_timeout_is_tried_again_and_the_upstream_called_unreachable() -> None:
    # As a NetworkPolicy makes it of a Service without endpoints: its packets are dropped.
    calls = Calls(connect_retries=1, circuit_breaker={"failures": 2})
    upstream = Upstream_(fastmcps_connect_timeout(), httpx2.ConnectTimeout("Connection timeout"))
    with pytest.raises(UpstreamUnavailable, match="'todo' is unavailable: Connection timeout"):
        await calls.run(upstream.call)
    assert upstream.calls == 2
    assert calls.metric("mcp_gateway_upstream_connect_retries_total") == 1
    upstream.outcomes = [fastmcps_connect_timeout()]
    with pytest.raises(UpstreamUnavailable, match="Timed out while waiting for response"):
        await calls.run(upstream.call)
    assert calls.circuit() == "open"


@pytest.mark.parametrize(
    "failure",
    [
        # The request may have reached the upstream: trying again could run the tool twice.
        httpx2.ReadError("connection reset"),
        MCPError(mcp_types.CONNECTION_CLOSED, "closed"),
    ],
    ids=["read error", "connection closed"],
)
async def test_a_call_whose_request_may_have_left_is_not_tried_again(failure: Exception) -> None:
    calls = Calls(connect_retries=3)
    upstream = Upstream_(failure, "answer")
    with pytest.raises(UpstreamUnavailable):
        await calls.run(upstream.call)
    assert upstream.calls == 1
    assert calls.metric("mcp_gateway_upstream_connect_retries_total") == 0


async def test_a_call_past_its_deadline_fails_naming_the_setting_and_is_cancelled() -> None:
    calls = Calls(timeout_seconds=0.2)
    cancelled = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(
        UpstreamUnavailable, match=r"no answer within 0.2 s \(its timeout_seconds\)"
    ):
        await calls.run(slow)
    assert cancelled.is_set()
    assert calls.answers == [(False, "no answer within 0.2 s")]


async def test_the_circuit_opens_after_failures_in_a_row_and_fails_calls_at_once() -> None:
    calls = Calls(connect_retries=0, circuit_breaker={"failures": 3, "open_seconds": 30})
    upstream = Upstream_(refused())
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable, match="All connection attempts failed"):
            await calls.run(upstream.call)
    assert calls.circuit() == "open"
    for _ in range(50):
        with pytest.raises(
            UpstreamUnavailable,
            match=r"^upstream 'todo' is unavailable: its circuit is open after 3 failed calls"
            r" in a row; calls are tried again in (29|30) s$",
        ):
            await calls.run(upstream.call)
    assert upstream.calls == 3
    assert calls.metric("mcp_gateway_upstream_short_circuited_total") == 50
    left = calls.calls.open_for()
    assert left is not None and 29 < left <= 30


async def test_after_its_open_time_one_success_closes_the_circuit_one_failure_reopens_it() -> None:
    calls = Calls(connect_retries=0, circuit_breaker={"failures": 2, "open_seconds": 0.2})
    upstream = Upstream_(refused(), refused(), refused(), refused(), "back")
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await calls.run(upstream.call)
    await asyncio.sleep(0.25)
    assert calls.calls.open_for() is None
    # Half open: the first call tries, fails, and opens it again at once.
    with pytest.raises(UpstreamUnavailable, match="All connection attempts failed"):
        await calls.run(upstream.call)
    with pytest.raises(UpstreamUnavailable, match="its circuit is open"):
        await calls.run(upstream.call)
    assert upstream.calls == 3
    await asyncio.sleep(0.25)
    with pytest.raises(UpstreamUnavailable, match="All connection attempts failed"):
        await calls.run(upstream.call)
    await asyncio.sleep(0.25)
    assert await calls.run(upstream.call) == "back"
    assert calls.circuit() == "closed"
    # Closed again: it takes two failures in a row to open it.
    upstream.outcomes = [refused(), "back"]
    with pytest.raises(UpstreamUnavailable):
        await calls.run(upstream.call)
    assert await calls.run(upstream.call) == "back"


@pytest.mark.parametrize(
    "answer",
    [
        ToolError("the tool said no"),
        MCPError(mcp_types.INVALID_PARAMS, "bad arguments"),
        MCPError(mcp_types.INTERNAL_ERROR, "HTTP 401"),
    ],
    ids=["tool error", "protocol error", "refused"],
)
async def test_an_upstream_that_answers_with_an_error_is_up(answer: Exception) -> None:
    calls = Calls(circuit_breaker={"failures": 2})
    upstream = Upstream_(answer)
    for _ in range(5):
        with pytest.raises((ToolError, MCPError)) as raised:
            await calls.run(upstream.call)
        assert not isinstance(raised.value, UpstreamUnavailable)
    assert upstream.calls == 5
    assert calls.circuit() == "closed"
    assert set(calls.answers) == {(True, None)}


async def test_calls_cancelled_by_their_callers_do_not_open_the_circuit() -> None:
    calls = Calls(circuit_breaker={"failures": 2})
    for _ in range(3):
        task = asyncio.ensure_future(calls.run(lambda: asyncio.sleep(30)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert calls.calls.open_for() is None
    assert await calls.run(Upstream_("answer").call) == "answer"


async def cancelled_call(calls: Calls) -> None:
    task = asyncio.ensure_future(calls.run(lambda: asyncio.sleep(30)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancelled_call_counts_neither_for_nor_against_the_upstream() -> None:
    # pybreaker took a call cancelled by its caller for a success: it reset the streak of
    # failures, and a cancelled trial call closed the circuit of an upstream still down.
    calls = Calls(connect_retries=0, circuit_breaker={"failures": 2, "open_seconds": 0.2})
    upstream = Upstream_(refused())
    with pytest.raises(UpstreamUnavailable):
        await calls.run(upstream.call)
    await cancelled_call(calls)
    with pytest.raises(UpstreamUnavailable):
        await calls.run(upstream.call)
    assert calls.circuit() == "open"
    await asyncio.sleep(0.25)
    await cancelled_call(calls)
    assert calls.circuit() != "closed"
    # Still on trial: the next call's failure opens it again at once.
    with pytest.raises(UpstreamUnavailable, match="All connection attempts failed"):
        await calls.run(upstream.call)
    assert calls.circuit() == "open"
    with pytest.raises(UpstreamUnavailable, match="its circuit is open"):
        await calls.run(upstream.call)
    assert upstream.calls == 3


async def test_calls_past_max_concurrent_calls_fail_at_once_as_busy() -> None:
    calls = Calls(max_concurrent_calls=2, circuit_breaker={"failures": 2})
    release = asyncio.Event()
    started = 0

    async def held() -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "done"

    first = [asyncio.ensure_future(calls.run(held)) for _ in range(2)]
    await asyncio.sleep(0.01)
    for _ in range(3):
        with pytest.raises(
            UpstreamBusy,
            match=r"^upstream 'todo' is busy: 2 calls are in flight, its max_concurrent_calls;",
        ):
            await calls.run(held)
    assert started == 2
    assert calls.metric("mcp_gateway_upstream_busy_total") == 3
    # Busy is the gateway's own limit, nothing against the upstream: its circuit stays closed.
    assert calls.circuit() == "closed"
    release.set()
    assert await asyncio.gather(*first) == ["done", "done"]
    # The slots are free again, after answers and failures alike.
    with pytest.raises(UpstreamUnavailable):
        await calls.run(Upstream_(httpx2.ReadError("reset")).call)
    assert await calls.run(Upstream_("answer").call) == "answer"
    assert calls.calls._calls_in_flight == 0


async def test_without_a_circuit_every_call_tries() -> None:
    calls = Calls(connect_retries=0, circuit_breaker={"failures": 0})
    upstream = Upstream_(refused())
    for _ in range(20):
        with pytest.raises(UpstreamUnavailable, match="All connection attempts failed"):
            await calls.run(upstream.call)
    assert upstream.calls == 20
    assert calls.circuit() == "closed"


# In a real gateway, in front of real upstreams.

CALLERS = {
    # A stateless gateway relays a 2026-07-28 call as one POST of its own (upstream_posts.py);
    # a stateful one calls through FastMCP's proxy in the caller's generation.
    "relayed": ({}, "auto"),
    "FastMCP's proxy": ({"MCP_STATELESS": "false"}, "legacy"),
}


OPEN_SAMPLE = (
    'mcp_gateway_upstream_circuit_state{mcp_gateway_upstream_circuit_state="open",server="sample"}'
)


@pytest.mark.parametrize("way", CALLERS)
async def test_a_down_upstreams_circuit_opens_and_closes_once_it_answers_again(
    start_gateway: StartGateway, witness: ServerProcess, tmp_path: Path, way: str
) -> None:
    env, mode = CALLERS[way]
    upstream = runtime.launch(tmp_path, {}, None)
    policy = {"connect_retries": 0, "circuit_breaker": {"failures": 2, "open_seconds": 3}}
    gateway = start_gateway(
        {"sample": {"url": upstream.mcp_url, **policy}, "witness": {"url": witness.mcp_url}},
        env=env,
    )
    upstream.stop()
    async with fastmcp.Client(gateway.mcp_url, mode=mode) as client:
        for _ in range(2):
            with pytest.raises(ToolError, match=r"'sample' is unavailable: .*connect"):
                await client.call_tool("sample_echo", {"text": "hi"})
        with pytest.raises(ToolError, match="'sample' is unavailable: its circuit is open"):
            await client.call_tool("sample_echo", {"text": "hi"})
        opened = time.monotonic()
        # Still listed (its last listing, without a try), so callers get the error above.
        assert "sample_echo" in {tool.name for tool in await client.list_tools()}
        ready = httpx.get(f"{gateway.base_url}/ready", timeout=5).json()
        assert any(note.startswith("circuits open: sample (") for note in ready["notes"])
        assert gateway.metric(OPEN_SAMPLE) == 1
        assert gateway.metric('mcp_gateway_upstream_short_circuited_total{server="sample"}') == 1
        back = processes.launch(
            [sys.executable, str(runtime.SAMPLE_SERVER)],
            {},
            tmp_path / "back.log",
            port=upstream.port,
        )
        try:
            await asyncio.sleep(max(0.0, 3.2 - (time.monotonic() - opened)))
            echoed = await client.call_tool("sample_echo", {"text": "back"})
        finally:
            back.stop()
    assert echoed.data == "back"
    assert gateway.metric(OPEN_SAMPLE) == 0
    events = [line for line in gateway.log_text().splitlines() if '"upstream_circuit_' in line]
    assert [event.split('"upstream_circuit_')[1].split('"')[0] for event in events] == [
        "opened",
        "half_open",
        "closed",
    ]


class SwitchedPort:
    """A loopback port that passes connections on to `target` while on, and refuses them
    while off, its open connections cut: an upstream going away and coming back at once,
    however long a server process would take to start on a loaded machine. It runs on an
    event loop of its own, so that it serves while the test waits on anything else."""

    def __init__(self, target: int) -> None:
        self.port = processes.free_port()
        self._target = target
        self._listener: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def mcp_url(self) -> str:
        return f"http://{processes.LOOPBACK}:{self.port}/mcp"

    def on(self) -> None:
        self._run(self._listen())

    def off(self) -> None:
        self._run(self._refuse())

    def close(self) -> None:
        self.off()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, step: Awaitable[None]) -> None:
        asyncio.run_coroutine_threadsafe(step, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        self._listener = await asyncio.start_server(self._pass_on, processes.LOOPBACK, self.port)

    async def _refuse(self) -> None:
        if self._listener is None:
            return
        self._listener.close()
        for writer in self._pipes:
            writer.transport.abort()
        await self._listener.wait_closed()
        self._listener = None

    async def _pass_on(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        server_r, server_w = await asyncio.open_connection(processes.LOOPBACK, self._target)
        self._pipes |= {client_w, server_w}
        await asyncio.gather(_copy(client_r, server_w), _copy(server_r, client_w))
        self._pipes -= {client_w, server_w}


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.transport.abort()


async def test_a_call_is_tried_again_until_a_restarted_upstream_answers(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    sample = runtime.launch(tmp_path, {}, None)
    upstream = SwitchedPort(sample.port)
    try:
        upstream.on()
        # Retries go at once, then after 0.1, 0.2, 0.4, 0.8 s and 1 s each, plus jitter: about
        # 6.5 s in all.
        gateway = start_gateway({"sample": {"url": upstream.mcp_url, "connect_retries": 10}})
        upstream.off()
        async with fastmcp.Client(gateway.mcp_url) as client:
            call = asyncio.ensure_future(client.call_tool("sample_echo", {"text": "waited"}))
            await asyncio.sleep(1.0)
            assert not call.done()
            upstream.on()
            echoed = await call
    finally:
        upstream.close()
        sample.stop()
    assert echoed.data == "waited"
    assert gateway.metric('mcp_gateway_upstream_connect_retries_total{server="sample"}') >= 1


@pytest.mark.parametrize("way", CALLERS)
async def test_a_call_past_the_upstreams_timeout_fails_and_the_next_one_is_served(
    start_gateway: StartGateway, witness: ServerProcess, way: str
) -> None:
    env, mode = CALLERS[way]
    gateway = start_gateway({"witness": {"url": witness.mcp_url, "timeout_seconds": 1}}, env=env)
    async with fastmcp.Client(gateway.mcp_url, mode=mode) as client:
        started = time.monotonic()
        with pytest.raises(
            ToolError,
            match=r"'witness' is unavailable: no answer within 1 s \(its timeout_seconds\)",
        ):
            # Not much longer than the deadline: a relayed call is cancelled at the upstream,
            # but one through FastMCP's proxy in 2025-11-25 goes on there, and the upstream's
            # drain at the module's end waits for it.
            await client.call_tool("witness_whoami", {"seconds": 4})
        assert time.monotonic() - started < 3.5
        quick = await client.call_tool("witness_whoami", {"seconds": 0})
    assert not quick.is_error


async def test_a_call_past_the_upstreams_limit_is_refused_as_busy_and_the_slot_frees(
    start_gateway: StartGateway, witness: ServerProcess
) -> None:
    gateway = start_gateway({"witness": {"url": witness.mcp_url, "max_concurrent_calls": 1}})
    async with fastmcp.Client(gateway.mcp_url) as client:
        slow = asyncio.ensure_future(client.call_tool("witness_whoami", {"seconds": 2}))
        await asyncio.sleep(0.5)
        with pytest.raises(ToolError, match="'witness' is busy: 1 calls are in flight"):
            await client.call_tool("witness_whoami", {"seconds": 0})
        assert not (await slow).is_error
        assert not (await client.call_tool("witness_whoami", {"seconds": 0})).is_error
    assert gateway.metric('mcp_gateway_upstream_busy_total{server="witness"}') == 1


async def test_a_call_past_its_deadline_is_cancelled_at_the_upstream(
    start_gateway: StartGateway, sample: ServerProcess, tmp_path: Path
) -> None:
    """The gateway gives up on a relayed (2026-07-28) call by closing its connection, which is
    that revision's cancellation: the upstream's tool stops rather than running for nobody."""
    gateway = start_gateway({"sample": {"url": sample.mcp_url, "timeout_seconds": 1}})
    gate = tmp_path / "gate"
    async with fastmcp.Client(gateway.mcp_url) as client:
        with pytest.raises(ToolError, match=r"no answer within 1 s \(its timeout_seconds\)"):
            await client.call_tool("sample_gated_echo", {"text": "opened", "gate": str(gate)})
    assert await asyncio.to_thread(wait_for, marker(gate, "cancelled"))
    # Given up on by the gateway: counted as the upstream's failure to answer in time, not as
    # a call its own caller cancelled.
    assert gateway.metric('mcp_tool_calls_total{outcome="error",tool="sample_gated_echo"}') == 1


async def test_a_call_its_caller_gives_up_on_is_cancelled_through_the_gateway(
    start_gateway: StartGateway, sample: ServerProcess, tmp_path: Path
) -> None:
    """A 2026-07-28 caller that cancels its call aborts its POST to the gateway; the gateway
    cancels its relayed call, which closes its POST to the upstream, which cancels the tool."""
    gateway = start_gateway({"sample": {"url": sample.mcp_url}})
    gate = tmp_path / "gate"
    async with fastmcp.Client(gateway.mcp_url) as client:
        call = asyncio.ensure_future(
            client.call_tool("sample_gated_echo", {"text": "opened", "gate": str(gate)})
        )
        assert await asyncio.to_thread(wait_for, marker(gate, "entered"))
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await asyncio.to_thread(wait_for, marker(gate, "cancelled"))
        # The caller's client goes on working.
        gate.touch()
        assert (
            await client.call_tool("sample_gated_echo", {"text": "opened", "gate": str(gate)})
        ).data == "opened"
    assert gateway.metric('mcp_tool_calls_total{outcome="cancelled",tool="sample_gated_echo"}') == 1
    assert gateway.metric("mcp_tool_calls_in_flight") == 0
    # A caller leaving says nothing about the upstream.
    assert gateway.metric('mcp_gateway_upstream_up{server="sample"}') == 1


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("way", ["fast path", "FastMCP's proxy"])
async def test_an_upstream_whose_proxy_has_none_healthy_is_unavailable(
    way: str, status: int
) -> None:
    # A mesh's or proxy's 502/503/504 ("no healthy upstream"), as /ready counts it: down.
    # It was taken for the upstream refusing the caller's Authorization: the circuit stayed
    # closed, and a listing dropped the upstream's tools.
    switch = Switch()
    policy = {"connect_retries": 0, "circuit_breaker": {"failures": 2, "open_seconds": 30}}
    with wrapped_upstream(answering_while(switch, status)) as upstream:
        async with in_process_gateway({"meshed": upstream}, **policy) as served:
            served.fast_path.enabled = way == "fast path"
            switch.down = True
            listed = {tool.name for tool in await served.mcp.list_tools()}
            texts = []
            for _ in range(3):
                headers, body = modern_request(
                    "tools/call", {"name": "meshed_echo", "arguments": {"text": "hi"}}
                )
                answer = (await served.http.post("/mcp", headers=headers, content=body)).json()
                assert answer["result"]["isError"], answer
                texts.append(answer["result"]["content"][0]["text"])
            assert served.relayed_calls == (3 if way == "fast path" else 0)
    assert listed == {"meshed_echo"}
    assert texts[:2] == [f"upstream 'meshed' is unavailable: HTTP {status}"] * 2
    assert texts[2].startswith(
        "upstream 'meshed' is unavailable: its circuit is open after 2 failed calls in a row"
    )


@pytest.mark.parametrize("status", [401, 403, 500])
@pytest.mark.parametrize("way", ["fast path", "FastMCP's proxy"])
async def test_only_a_401_or_403_is_said_to_refuse_the_callers_authorization(
    way: str, status: int
) -> None:
    switch = Switch()
    with wrapped_upstream(answering_while(switch, status)) as upstream:
        async with in_process_gateway({"refusing": upstream}) as served:
            served.fast_path.enabled = way == "fast path"
            switch.down = True
            headers, body = modern_request(
                "tools/call", {"name": "refusing_echo", "arguments": {"text": "hi"}}
            )
            answer = (await served.http.post("/mcp", headers=headers, content=body)).json()
    said = "upstream 'refusing' refused the call: Server returned an error response"
    if status == 500:
        assert answer["result"]["content"][0]["text"] == f"{said} (HTTP 500)"
    else:
        assert answer["result"]["content"][0]["text"] == (
            f"{said} (HTTP {status}: the caller's Authorization, passed on unchanged, does not"
            " admit it)"
        )
