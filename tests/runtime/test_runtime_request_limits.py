"""Request bodies are bounded in size and time on every route, headers in time, and slow
clients neither hold connections open nor the SIGTERM drain."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from harness.jsonrpc import MCP_HEADERS
from harness.processes import ServerProcess
from harness.runtime import StartServer
from mcp_runtime.deadlines import DRAIN_BODY_GRACE_SECONDS, BodyDeadlines
from mcp_runtime.header_timeout import MAX_HEAD_BYTES
from mcp_runtime.request_limits import BoundedBody, RequestLimits
from raw_http import RawConnection
from starlette.types import Message

LIMIT = 256 * 1024
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
# Each route the limits must cover: the MCP endpoint and a server's own REST-style route.
PATHS = ["/mcp", "/upload"]
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
TOO_LARGE = f"request body too large: over MCP_MAX_REQUEST_BYTES={LIMIT} bytes"
TOO_SLOW = f"request body not received within MCP_BODY_TIMEOUT_SECONDS={BODY_TIMEOUT:g} s"
HEAD_TOO_LARGE = f"request headers too large: over {MAX_HEAD_BYTES} bytes"
CUT_BY_DRAIN = "request body not received before the server began shutting down; send it again"


@pytest.fixture(scope="module")
def limited(start_module_server: StartServer) -> ServerProcess:
    return start_module_server(
        env={
            "MCP_MAX_REQUEST_BYTES": str(LIMIT),
            "MCP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "MCP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        }
    )


def refusal(path: str, message: str) -> object:
    """The body a refused request gets: a JSON-RPC error on /mcp, the REST error elsewhere."""
    if path == "/mcp":
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return {"error": message}


def echo_call(text: str) -> bytes:
    call = {"name": "echo", "arguments": {"text": text}}
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}).encode()


@pytest.mark.parametrize("path", PATHS)
def test_declared_oversized_body_is_413_before_any_of_it_is_sent(
    limited: ServerProcess, path: str
) -> None:
    with RawConnection(limited.port) as conn:
        conn.send_head("POST", path, {**JSON_HEADERS, "Content-Length": str(100 * 1024 * 1024)})
        response = conn.read_response(timeout=10)
        assert response.status == 413
        assert json.loads(response.body) == refusal(path, TOO_LARGE)
        assert response.headers["connection"] == "close"
        assert conn.wait_closed(timeout=10)


@pytest.mark.parametrize("path", PATHS)
def test_chunked_oversized_body_is_413_as_soon_as_it_passes_the_limit(
    limited: ServerProcess, path: str
) -> None:
    chunk = b"x" * 16384
    sent = 0
    with RawConnection(limited.port) as conn:
        conn.send_head("POST", path, {**JSON_HEADERS, "Transfer-Encoding": "chunked"})
        deadline = time.monotonic() + 30
        while not conn.has_data() and sent < 64 * LIMIT and time.monotonic() < deadline:
            try:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break
            sent += len(chunk)
            time.sleep(0.005)
        response = conn.read_response(timeout=10)
    assert response.status == 413
    assert json.loads(response.body) == refusal(path, TOO_LARGE)
    # The answer came while the body was still being sent, not after the whole of it (the
    # loop would stop at 64 times the limit): past the limit, only what was in flight on the
    # socket and in the server's buffer, which a stalled server lets grow on a loaded machine.
    assert sent < 32 * LIMIT


def test_bodies_within_the_limit_are_served_and_one_byte_over_is_not(
    limited: ServerProcess,
) -> None:
    upload = f"{limited.base_url}/upload"
    response = httpx.post(upload, content=b"x" * LIMIT)
    assert (response.status_code, response.json()) == (200, {"bytes": LIMIT})
    response = httpx.post(upload, content=b"x" * (LIMIT + 1))
    assert (response.status_code, response.json()) == (413, refusal("/upload", TOO_LARGE))

    headers = {**MCP_HEADERS, "Content-Type": "application/json"}
    call = echo_call("y" * (LIMIT - 200))
    response = httpx.post(limited.mcp_url, content=call, headers=headers)
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"] == {"result": "y" * (LIMIT - 200)}
    response = httpx.post(limited.mcp_url, content=echo_call("y" * LIMIT), headers=headers)
    assert (response.status_code, response.json()) == (413, refusal("/mcp", TOO_LARGE))


def test_mcp_takes_bodies_up_to_the_setting_even_above_the_sdk_default(
    start_server: StartServer,
) -> None:
    # The MCP SDK refuses bodies over 4 MiB by itself; the setting must govern /mcp too.
    server = start_server(env={"MCP_MAX_REQUEST_BYTES": str(6 * 1024 * 1024)})
    text = "z" * (5 * 1024 * 1024)
    response = httpx.post(
        server.mcp_url,
        content=echo_call(text),
        headers={**MCP_HEADERS, "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"] == {"result": text}


def test_default_limit_is_4_mib_on_every_route(sample_server: ServerProcess) -> None:
    for path in PATHS:
        with RawConnection(sample_server.port) as conn:
            conn.send_head(
                "POST", path, {**JSON_HEADERS, "Content-Length": str(4 * 1024 * 1024 + 1)}
            )
            response = conn.read_response(timeout=10)
        message = f"request body too large: over MCP_MAX_REQUEST_BYTES={4 * 1024 * 1024} bytes"
        assert (response.status, json.loads(response.body)) == (413, refusal(path, message))


def test_headers_sent_a_byte_at_a_time_are_cut_off_after_the_header_timeout(
    limited: ServerProcess,
) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with RawConnection(limited.port) as conn:
        seconds = conn.trickle(head, interval=0.2, stop_after=20)
        response = conn.read_response(timeout=5)
        assert response.status == 408
        assert response.headers["connection"] == "close"
        assert conn.wait_closed(timeout=5)
    assert HEADER_TIMEOUT - 0.5 < seconds < HEADER_TIMEOUT + 6


def send_headers_until_answered(conn: RawConnection) -> int:
    """Send 8 KB header lines until the server answers or closes (or 256 heads' worth went
    unanswered); the bytes sent."""
    line = b"X-Pad: " + b"a" * 8000 + b"\r\n"
    sent = 0
    while not conn.has_data() and sent < 256 * MAX_HEAD_BYTES:
        try:
            conn.send(line)
        except OSError:
            break
        sent += len(line)
        time.sleep(0.001)
    return sent


def test_headers_past_their_size_limit_get_431_while_they_are_still_being_sent(
    limited: ServerProcess,
) -> None:
    """Headers are bounded in size as bodies are: uvicorn's httptools protocol keeps every
    byte of a request's head until it is complete, so a client sending headers without end
    for the whole header timeout filled the server's memory at the network's speed."""
    with RawConnection(limited.port) as conn:
        conn.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = send_headers_until_answered(conn)
        response = conn.read_response(timeout=10)
        assert response.status == 431
        assert json.loads(response.body) == {"error": HEAD_TOO_LARGE}
        assert response.headers["connection"] == "close"
        assert conn.wait_closed(timeout=5)
    # Past the limit, only what was in flight on the socket and in the server's buffer.
    assert sent < 32 * MAX_HEAD_BYTES
    # A head just within the limit is served.
    padding = {"X-Pad": "a" * (MAX_HEAD_BYTES - 1024)}
    assert httpx.get(f"{limited.base_url}/health", headers=padding).status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_trailers_past_the_head_limit_close_the_connection_while_they_are_still_being_sent(
    limited: ServerProcess, path: str
) -> None:
    """A chunked body's trailers are headers after the body, which httptools keeps until
    they end: neither the body limit (they are no body) nor the head's counted them."""
    with RawConnection(limited.port) as conn:
        conn.send_head("POST", path, {**JSON_HEADERS, "Transfer-Encoding": "chunked"})
        conn.send(b"5\r\nhello\r\n0\r\n")
        sent = send_headers_until_answered(conn)
        assert conn.wait_closed(timeout=5)
    assert sent < 32 * MAX_HEAD_BYTES
    assert httpx.get(f"{limited.base_url}/health").status_code == 200


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    limited: ServerProcess,
) -> None:
    with RawConnection(limited.port) as conn:
        started = time.monotonic()
        assert conn.wait_closed(timeout=HEADER_TIMEOUT + 6)
        assert time.monotonic() - started > HEADER_TIMEOUT - 0.5
        assert conn.unread == b"", "an idle connection is closed without an answer"


@pytest.mark.parametrize("path", PATHS)
def test_a_body_sent_a_byte_at_a_time_gets_408_after_the_body_timeout(
    limited: ServerProcess, path: str
) -> None:
    body = b"x" * 1000
    with RawConnection(limited.port) as conn:
        conn.send_head("POST", path, {**JSON_HEADERS, "Content-Length": str(len(body))})
        seconds = conn.trickle(body, interval=0.2, stop_after=20)
        response = conn.read_response(timeout=5)
        assert response.status == 408
        assert json.loads(response.body) == refusal(path, TOO_SLOW)
        assert response.headers["connection"] == "close"
        assert conn.wait_closed(timeout=5)
    assert BODY_TIMEOUT - 0.5 < seconds < BODY_TIMEOUT + 6
    # The server is fine afterwards: the next client is served.
    assert httpx.get(f"{limited.base_url}/health").status_code == 200


@pytest.mark.parametrize(
    ("path", "version"),
    [("/mcp", None), ("/mcp", "2025-11-25"), ("/mcp", "2026-07-28"), ("/upload", None)],
)
def test_a_client_leaving_while_it_sends_its_body_is_no_server_error(
    limited: ServerProcess, path: str, version: str | None
) -> None:
    """Nothing is left to answer or run, and the server's log has no error for it: a client
    timing out, or anyone, could otherwise fill it with tracebacks."""
    headers = {**JSON_HEADERS, "Content-Length": "1000"}
    if version is not None:
        headers |= {"MCP-Protocol-Version": version, "Mcp-Method": "tools/call"}
    logged_before = len(limited.log_text())
    with RawConnection(limited.port) as conn:
        conn.send_head("POST", path, headers)
        conn.send(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", ')
        time.sleep(0.2)
    assert httpx.get(f"{limited.base_url}/health").status_code == 200
    time.sleep(0.2)
    logged = limited.log_text()[logged_before:]
    assert '"level":"error"' not in logged, logged


def test_sigterm_does_not_wait_for_slow_clients_and_exits_0_cleanly(
    start_server: StartServer,
) -> None:
    # The defaults (10 s for headers, 30 s for a body) outlast a prompt exit: the drain
    # must not wait for them.
    server = start_server(env={"MCP_DRAIN_TIMEOUT_SECONDS": "20"})

    def slow_head(conn: RawConnection) -> None:
        conn.trickle(b"POST /upload HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100, 0.5, 60)

    answers: dict[str, object] = {}

    def slow_body(conn: RawConnection, path: str) -> None:
        conn.send_head("POST", path, {**JSON_HEADERS, "Content-Length": "1000"})
        conn.trickle(b"x" * 1000, 0.5, 60)
        response = conn.read_response(timeout=5)
        answers[path] = (response.status, json.loads(response.body))

    connections = [RawConnection(server.port) for _ in range(4)]
    trickles = [
        threading.Thread(target=slow_head, args=(connections[0],)),
        threading.Thread(target=slow_head, args=(connections[1],)),
        threading.Thread(target=slow_body, args=(connections[2], "/upload")),
        threading.Thread(target=slow_body, args=(connections[3], "/mcp")),
    ]
    try:
        for thread in trickles:
            thread.start()
        time.sleep(2)
        terminated = time.monotonic()
        server.terminate()
        assert server.process.wait(timeout=30) == 0
        # The drain's grace for bodies, then the exit: far short of the 30 s body timeout.
        assert time.monotonic() - terminated < DRAIN_BODY_GRACE_SECONDS + 6
    finally:
        for conn in connections:
            conn.sock.close()
        for thread in trickles:
            thread.join(timeout=30)
    # Bodies still arriving when the drain began got a short grace period, then 408.
    assert answers == {path: (408, refusal(path, CUT_BY_DRAIN)) for path in PATHS}
    log = server.log_text()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log


async def test_a_body_that_came_in_time_is_taken_when_the_server_was_too_busy_to_read_it() -> None:
    # The loop stalls past the body's deadline; the body came before it. When the loop runs
    # again the read and the deadline are due in the same turn, the deadline first.
    came = asyncio.Event()
    body_message = {"type": "http.request", "body": b"{}", "more_body": False}

    async def receive() -> Message:
        await came.wait()
        return body_message

    async def never_called(*_: object) -> None:
        raise AssertionError("nothing may be sent")

    loop = asyncio.get_running_loop()
    # Timed from before the body's own clock starts, so that the body comes before its
    # deadline however long this test is descheduled in between.
    started = loop.time()
    limits = RequestLimits(never_called, 1024, 0.05, BodyDeadlines(), "/mcp")
    body = BoundedBody(limits, {"type": "http", "path": "/mcp"}, receive, never_called)
    loop.call_at(started + 0.005, time.sleep, 0.2)
    loop.call_at(started + 0.01, came.set)
    assert await body.receive() == body_message
    assert not body.refused
