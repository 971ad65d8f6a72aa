"""A response's head and body leave in one write (mcp_runtime.response_writes); a head whose
body comes later still leaves at once, and nothing held is lost or sent after the end."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from harness.jsonrpc import modern_request
from harness.processes import LOOPBACK
from harness.runtime import StartServer
from harness.runtime_protocol import served_by_runtime_protocol
from mcp_runtime.response_writes import HeldWrites
from starlette.types import Receive, Scope, Send


class Recorded(asyncio.Transport):
    """A transport that keeps what is written to it, to count the writes."""

    def __init__(self) -> None:
        super().__init__(extra={"peername": ("127.0.0.1", 50000)})
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def turn() -> None:
    await asyncio.sleep(0)


def test_a_head_and_the_body_that_follows_it_leave_in_one_write() -> None:
    async def scenario() -> list[bytes]:
        recorded = Recorded()
        held = HeldWrites(recorded, asyncio.get_running_loop())
        held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        held.write(b"{}")
        await turn()
        return recorded.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]


def test_a_write_alone_leaves_at_the_end_of_the_turn() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        recorded = Recorded()
        held = HeldWrites(recorded, asyncio.get_running_loop())
        held.write(b"head")
        before = list(recorded.writes)
        await turn()
        return before, recorded.writes

    assert asyncio.run(scenario()) == ([], [b"head"])


def test_close_sends_what_is_held_first_and_nothing_follows_a_closed_transport() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        closed_by_us = Recorded()
        held = HeldWrites(closed_by_us, asyncio.get_running_loop())
        held.write(b"last words")
        held.close()
        gone = Recorded()
        held_for_gone = HeldWrites(gone, asyncio.get_running_loop())
        held_for_gone.write(b"too late")
        gone.closed = True
        await turn()
        return closed_by_us.writes, gone.writes

    closed_by_us, gone = asyncio.run(scenario())
    assert closed_by_us == [b"last words"]
    assert gone == []


def test_what_else_the_protocol_asks_of_its_transport_is_the_transports_own() -> None:
    async def scenario() -> object:
        held = HeldWrites(Recorded(), asyncio.get_running_loop())
        return held.get_extra_info("peername")

    assert asyncio.run(scenario()) == ("127.0.0.1", 50000)


BODY_LATER = threading.Event()


async def head_now_body_later(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"text/event-stream")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await asyncio.to_thread(BODY_LATER.wait, 10)
    await send({"type": "http.response.body", "body": b"data: later\n\n"})


@pytest.fixture
def streaming_server() -> Iterator[int]:
    """uvicorn on uvloop with the runtime's protocol, serving `head_now_body_later`."""
    try:
        with served_by_runtime_protocol(head_now_body_later) as port:
            try:
                yield port
            finally:
                BODY_LATER.set()  # before the server stops: the app waits for it
    finally:
        BODY_LATER.clear()


def test_a_head_whose_body_comes_later_reaches_the_client_before_it(
    streaming_server: int,
) -> None:
    with socket.create_connection(("127.0.0.1", streaming_server), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        head = client.recv(4096)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert head.endswith(b"\r\n\r\n")
        BODY_LATER.set()
        assert b"data: later" in client.recv(4096)


def test_an_answer_its_client_never_reads_drops_the_connection_after_the_send_timeout(
    start_server: StartServer,
) -> None:
    """uvicorn waits for ever for a client to read: one that calls and never reads held the
    answer in memory (3 MB answers: 15 MB each in the process) and its request in flight."""
    server = start_server(env={"MCP_SEND_TIMEOUT_SECONDS": "1"})
    headers, message = modern_request(
        "tools/call", {"name": "echo", "arguments": {"text": "x" * 3_000_000}}
    )
    body = json.dumps(message).encode()
    with socket.socket() as client:
        # A small window, so that the server's writes stall at once.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect((LOOPBACK, server.port))
        head = ["POST /mcp HTTP/1.1", f"Host: {LOOPBACK}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        client.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        deadline = time.monotonic() + 30
        while "response_unread" not in server.log_text():
            assert time.monotonic() < deadline, "the unread answer was never dropped"
            time.sleep(0.1)
        received = 0
        client.settimeout(10)
        try:
            while chunk := client.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
    assert 0 < received < len(body)
    events = [json.loads(line) for line in server.log_text().splitlines() if line[:1] == "{"]
    unread = [e for e in events if e["event"] == "response_unread"]
    assert [(e["level"], e["timeout_seconds"]) for e in unread] == [("warning", 1.0)]
    assert server.metric("mcp_tool_calls_in_flight") == 0
