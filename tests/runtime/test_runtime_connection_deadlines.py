"""Connections' header and keep-alive deadlines run on one timer per kind
(mcp_runtime.connection_deadlines), and the runtime's protocol still closes idle keep-alive
connections, keeps busy ones, and answers pipelined requests."""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from harness.runtime_protocol import served_by_runtime_protocol
from mcp_runtime.connection_deadlines import ConnectionDeadlines
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_ALIVE_SECONDS = 1
HEADER_SECONDS = 1


def counted_timers(monkeypatch: pytest.MonkeyPatch, loop: asyncio.AbstractEventLoop) -> list[float]:
    """The loop's `call_at`, noting when each timer set is due."""
    due: list[float] = []
    call_at = loop.call_at

    def counted(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if callback.__name__ == "_run_passed":
            due.append(when)
        return call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", counted)
    return due


async def test_deadlines_of_many_connections_share_one_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    timers = counted_timers(monkeypatch, loop)
    deadlines = ConnectionDeadlines(0.1)
    passed: list[str] = []
    for name in ("a", "b", "c", "d"):
        deadlines.set(name, loop, lambda name=name: passed.append(name))
    deadlines.clear("b")
    await asyncio.sleep(0.05)
    deadlines.set("a", loop, lambda: passed.append("a again"))  # set again: due later
    await asyncio.sleep(0.3)
    assert passed == ["c", "d", "a again"]
    # The first timer found c and d past (and a, unless it came late): at most one more.
    assert 1 <= len(timers) <= 2


async def test_a_deadline_cleared_in_time_runs_nothing() -> None:
    loop = asyncio.get_running_loop()
    deadlines = ConnectionDeadlines(0.02)
    passed: list[str] = []
    deadlines.set("a", loop, lambda: passed.append("a"))
    deadlines.clear("a")
    await asyncio.sleep(0.1)
    assert passed == []


async def test_a_deadline_set_while_others_pass_gets_its_timer() -> None:
    loop = asyncio.get_running_loop()
    deadlines = ConnectionDeadlines(0.02)
    passed: list[str] = []
    deadlines.set("a", loop, lambda: deadlines.set("b", loop, lambda: passed.append("b")))
    await asyncio.sleep(0.2)
    assert passed == ["b"]


def test_deadlines_carry_over_to_the_next_event_loop() -> None:
    deadlines = ConnectionDeadlines(0.02)
    passed: list[str] = []

    async def set_and_leave() -> None:
        deadlines.set("a", asyncio.get_running_loop(), lambda: passed.append("a"))

    async def set_and_wait() -> None:
        deadlines.set("b", asyncio.get_running_loop(), lambda: passed.append("b"))
        await asyncio.sleep(0.2)

    asyncio.run(set_and_leave())
    asyncio.run(set_and_wait())
    assert passed == ["b"]


async def answer(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5 * max(KEEP_ALIVE_SECONDS, HEADER_SECONDS))
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def server() -> Iterator[int]:
    """uvicorn on uvloop with the runtime's protocol, 1 s for headers and 1 s of keep-alive."""
    with served_by_runtime_protocol(
        answer, header_timeout=HEADER_SECONDS, timeout_keep_alive=KEEP_ALIVE_SECONDS
    ) as port:
        yield port


REQUEST = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


def answers(client: socket.socket, count: int) -> bytes:
    received = b""
    while received.count(b"HTTP/1.1 200") < count or not received.endswith(b"ok"):
        chunk = client.recv(4096)
        assert chunk, f"closed after {received!r}"
        received += chunk
    return received


def closed_within(client: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed the connection, or None if it did not."""
    started = time.monotonic()
    client.settimeout(seconds)
    try:
        if client.recv(4096) == b"":
            return time.monotonic() - started
    except TimeoutError:
        return None
    raise AssertionError("unexpected bytes")


def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_kept(server: int) -> None:
    with (
        socket.create_connection(("127.0.0.1", server), timeout=5) as idle,
        socket.create_connection(("127.0.0.1", server), timeout=5) as busy,
    ):
        idle.sendall(REQUEST)
        answers(idle, 1)
        started = time.monotonic()
        # A request every half keep-alive period keeps the other connection open past it.
        while time.monotonic() - started < 2.5 * KEEP_ALIVE_SECONDS:
            busy.sendall(REQUEST)
            answers(busy, 1)
            time.sleep(KEEP_ALIVE_SECONDS / 2)
        assert closed_within(idle, 0.1) is not None
        busy.sendall(REQUEST)
        answers(busy, 1)
        seconds = closed_within(busy, 3 * KEEP_ALIVE_SECONDS)
        assert seconds is not None
        assert 0.5 * KEEP_ALIVE_SECONDS < seconds < 2 * KEEP_ALIVE_SECONDS


def test_pipelined_requests_are_all_answered(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as client:
        client.sendall(REQUEST * 3)
        assert answers(client, 3).count(b"HTTP/1.1 200 OK") == 3


def test_a_request_answered_after_the_deadlines_is_not_cut(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as client:
        client.sendall(REQUEST)
        answers(client, 1)
        # The keep-alive deadline the first answer set ends when the next request comes, and
        # the header deadline once its headers are in.
        client.sendall(REQUEST.replace(b"GET /", b"GET /slow"))
        answers(client, 1)


def test_headers_pipelined_behind_a_request_being_answered_do_not_overtake_its_answer(
    server: int,
) -> None:
    """The next request's headers stall while the one before is still being answered: their
    deadline passes, and the answer due goes out first, then the connection is closed (a 408
    sent then would be read as that request's answer, which would be lost)."""
    with socket.create_connection(("127.0.0.1", server), timeout=5) as client:
        client.sendall(REQUEST.replace(b"GET /", b"GET /slow") + b"GET / HTTP/1.1\r\nhost")
        received = b""
        while chunk := client.recv(4096):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK"), received
    assert received.endswith(b"\r\n\r\nok"), received


UVICORNS_ON_RESPONSE_COMPLETE = """
    def on_response_complete(self) -> None:
        # Callback for pipelined HTTP requests to be started.
        self.server_state.total_requests += 1

        if self.transport.is_closing():
            return

        self._unset_keepalive_if_required()

        # Unpause data reads if needed.
        self.flow.resume_reading()

        # Unblock any pipelined events. If there are none, arm the
        # Keep-Alive timeout instead.
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
"""


def test_the_protocol_mirrors_uvicorns_on_response_complete() -> None:
    # HeaderTimeoutProtocol.on_response_complete is this, with the keep-alive deadline in
    # `idle_deadlines`: a uvicorn that changed it must be read again before it is used.
    source = inspect.getsource(HttpToolsProtocol.on_response_complete)
    assert source.strip() == UVICORNS_ON_RESPONSE_COMPLETE.strip()
