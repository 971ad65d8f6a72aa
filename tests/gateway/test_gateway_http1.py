"""The relayed calls' HTTP/1.1 connections (`mcp_gateway.http1`) against an upstream that
answers byte by byte as each test says, on a real socket: what is kept alive, what is closed,
every way a body can come, and every way an answer can fail."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx2
import pytest
from mcp_gateway.http1 import Http1Connections, UpstreamDisconnected

JSON = b'{"jsonrpc":"2.0","id":1,"result":{}}'
HEADERS = {"content-type": "application/json", "mcp-method": "tools/call"}


def answer(body: bytes = JSON, *headers: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"content-length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


Answering = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawUpstream:
    """Reads each POST whole, keeps it, and answers it with `answering` (which may also do
    nothing, or close the connection); counts the connections it was given."""

    def __init__(self, answering: Answering) -> None:
        self.answering = answering
        self.connections = 0
        self.requests: list[bytes] = []
        self.closed_by_client = 0
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                await self.answering(reader, writer, len(self.requests))
                if writer.is_closing():
                    return
        except asyncio.IncompleteReadError as error:
            if not error.partial:
                self.closed_by_client += 1
        finally:
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Callable[[Answering], RawUpstream]]:
    servers: list[asyncio.Server] = []

    async def make(answering: Answering) -> RawUpstream:
        raw = RawUpstream(answering)
        server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
        servers.append(server)
        raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/mcp"
        return raw

    yield make  # type: ignore[misc]
    for server in servers:
        server.close()


def writes(*parts: bytes) -> Answering:
    async def answering(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: int) -> None:
        for part in parts:
            writer.write(part)
            await writer.drain()

    return answering


def pool(url: str, keepalive_seconds: float = 4.0, max_idle: int = 100) -> Http1Connections:
    return Http1Connections(
        url, connect_timeout=2.0, keepalive_seconds=keepalive_seconds, max_idle=max_idle
    )


async def post(connections: Http1Connections, body: bytes = b"{}") -> tuple[int, bytes]:
    async with connections.post(HEADERS, body) as answered:
        return answered.status, await answered.read()


async def connections_for_two_posts(raw: RawUpstream) -> int:
    """How many connections two POSTs in turn took, each answered with JSON."""
    connections = pool(raw.url)
    try:
        for _ in range(2):
            assert await post(connections) == (200, JSON)
    finally:
        await connections.aclose()
    return raw.connections


async def test_posts_in_turn_share_one_connection_and_send_what_they_are_given(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    raw = await upstream(writes(answer()))
    connections = pool(raw.url)
    try:
        for body in (b'{"n":1}', b'{"n":2}', b'{"n":3}'):
            assert await post(connections, body) == (200, JSON)
    finally:
        await connections.aclose()
    assert raw.connections == 1
    port = raw.url.split(":")[2].split("/")[0]
    assert (
        raw.requests[1]
        == (
            f"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: 7\r\n"
            'content-type: application/json\r\nmcp-method: tools/call\r\n\r\n{"n":2}'
        ).encode()
    )


async def test_a_connection_idle_past_the_keepalive_is_closed_not_used(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    raw = await upstream(writes(answer()))
    connections = pool(raw.url, keepalive_seconds=1.0)
    try:
        await asyncio.gather(post(connections), post(connections))  # two connections, idle
        await asyncio.sleep(0.5)
        await post(connections)  # on one of them
        await asyncio.sleep(0.6)
        # The one just used is within the keepalive, the other not: it is closed, though the
        # newest idle one serves the POST. (A slow machine only makes the other older.)
        await post(connections)
        await asyncio.sleep(0.05)  # for the upstream to see it closed
        assert (raw.connections, raw.closed_by_client) == (2, 1)
        await asyncio.sleep(1.1)
        await post(connections)
        await asyncio.sleep(0.05)
        assert (raw.connections, raw.closed_by_client) == (3, 2)
    finally:
        await connections.aclose()


async def test_connections_past_max_idle_are_closed_as_they_come_back(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    raw = await upstream(writes(answer()))
    connections = pool(raw.url, max_idle=1)
    try:
        await asyncio.gather(post(connections), post(connections), post(connections))
        await asyncio.sleep(0.05)  # for the upstream to see them closed
        assert (raw.connections, raw.closed_by_client) == (3, 2)
        await post(connections)  # on the one kept
        assert raw.connections == 3
    finally:
        await connections.aclose()


@pytest.mark.parametrize(
    "answered",
    [
        pytest.param(answer(JSON, "connection: close"), id="connection: close"),
        pytest.param(
            b"HTTP/1.0 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(JSON), JSON), id="HTTP/1.0"
        ),
    ],
)
async def test_an_answer_that_ends_the_connection_is_not_followed_on_it(
    upstream: Callable[[Answering], Awaitable[RawUpstream]], answered: bytes
) -> None:
    raw = await upstream(writes(answered))
    assert await connections_for_two_posts(raw) == 2


async def test_a_body_that_ends_with_the_connection_is_read_to_the_end(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    async def until_closed(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: int) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n" + JSON[:10])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(JSON[10:])
        writer.close()

    raw = await upstream(until_closed)
    assert await connections_for_two_posts(raw) == 2


@pytest.mark.parametrize(
    "answered",
    [
        pytest.param(
            answer(
                b"a\r\n"
                + JSON[:10]
                + b"\r\n%x\r\n" % (len(JSON) - 10)
                + JSON[10:]
                + b"\r\n0\r\n\r\n",
                "transfer-encoding: chunked",
            ),
            id="chunked",
        ),
        pytest.param(answer(gzip.compress(JSON), "content-encoding: gzip"), id="gzip"),
        pytest.param(
            b"HTTP/1.1 100 Continue\r\n\r\n" + answer(), id="after an interim 100 Continue"
        ),
    ],
)
async def test_every_framing_of_a_body_reads_the_same(
    upstream: Callable[[Answering], Awaitable[RawUpstream]], answered: bytes
) -> None:
    raw = await upstream(writes(answered))
    assert await connections_for_two_posts(raw) == 1


async def test_a_large_body_is_read_whole_and_its_connection_carries_the_next_post(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    # Four times what the connection holds before it stops reading, sent at once: it stops
    # and starts again as the body is read, and ends reading again for the next answer.
    large = b"[" + b'"x",' * 262_144 + b'"x"]'

    async def large_first(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        writer.write(answer(large if n == 1 else JSON))
        await writer.drain()

    raw = await upstream(large_first)
    connections = pool(raw.url)
    try:
        assert await post(connections) == (200, large)
        assert await asyncio.wait_for(post(connections), 5) == (200, JSON)
    finally:
        await connections.aclose()
    assert raw.connections == 1


async def test_an_event_stream_is_read_as_it_comes(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    first_read = asyncio.Event()

    async def streams(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: int) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n7\r\ndata: 1\r\n"
        )
        await writer.drain()
        await first_read.wait()
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await writer.drain()

    raw = await upstream(streams)
    connections = pool(raw.url)
    try:
        async with connections.post(HEADERS, b"{}") as answered:
            assert answered.headers["content-type"] == "text/event-stream"
            chunks = answered.chunks()
            assert await asyncio.wait_for(anext(chunks), 5) == b"data: 1"
            first_read.set()
            assert [chunk async for chunk in chunks] == [b"data: 2"]
    finally:
        await connections.aclose()


async def test_an_upstream_that_closes_before_its_answer_fails_the_post_once(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    async def hangs_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: int) -> None:
        writer.close()

    raw = await upstream(hangs_up)
    connections = pool(raw.url)
    try:
        with pytest.raises(UpstreamDisconnected, match="closed the connection before its answer"):
            await post(connections)
    finally:
        await connections.aclose()
    assert len(raw.requests) == 1  # never sent again: the upstream may have acted on it


async def test_an_answer_that_is_not_http_fails_and_closes_the_connection(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    raw = await upstream(writes(b"SSH-2.0-OpenSSH\r\n\r\n"))
    connections = pool(raw.url)
    try:
        with pytest.raises(UpstreamDisconnected, match=r"not HTTP/1\.1"):
            await post(connections)
    finally:
        await connections.aclose()


async def test_a_cancelled_post_closes_its_connection(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    async def first_never(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int
    ) -> None:
        if n == 1:
            await reader.read()  # no answer, until the client leaves
        else:
            writer.write(answer())

    raw = await upstream(first_never)
    connections = pool(raw.url)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(post(connections), 0.2)
        assert await post(connections) == (200, JSON)
    finally:
        await connections.aclose()
    assert raw.connections == 2


async def test_a_refused_connection_fails_in_httpx2s_words() -> None:
    server = await asyncio.start_server(lambda *_: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    connections = pool(f"http://127.0.0.1:{port}/mcp")
    with pytest.raises(httpx2.ConnectError, match="All connection attempts failed") as failed:
        await post(connections)
    assert isinstance(failed.value.__cause__, ConnectionRefusedError)


async def test_a_header_that_could_split_the_request_and_a_url_that_is_not_http_are_refused(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    raw = await upstream(writes(answer()))
    connections = pool(raw.url)
    with pytest.raises(ValueError, match="header 'authorization' holds a line break"):
        async with connections.post({"authorization": "Bearer a\r\nx-admin: 1"}, b"{}"):
            pass
    assert raw.requests == []
    with pytest.raises(ValueError, match=r"not an http or https URL: 'unix:///run/mcp\.sock'"):
        Http1Connections("unix:///run/mcp.sock", connect_timeout=1, keepalive_seconds=1, max_idle=1)


async def test_the_request_frames_itself_names_no_credentials_and_passes_a_callers_bytes_on(
    upstream: Callable[[Answering], Awaitable[RawUpstream]],
) -> None:
    raw = await upstream(writes(answer()))
    port = raw.url.split(":")[2].split("/")[0]
    connections = pool(f"http://user:secret@127.0.0.1:{port}/mcp?tenant=a")
    try:
        # Starlette decodes a caller's header bytes as latin-1: the same bytes go on.
        caller = b"caf\xc3\xa9".decode("latin-1")
        framing = {"Host": "evil", "content-length": "0", "transfer-encoding": "chunked"}
        async with connections.post({"x-caller": caller, **framing}, b"{}"):
            pass
    finally:
        await connections.aclose()
    assert raw.requests[0].startswith(
        f"POST /mcp?tenant=a HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n".encode()
    )
    assert raw.requests[0].endswith(b"content-length: 2\r\nx-caller: caf\xc3\xa9\r\n\r\n{}")
    assert b"secret" not in raw.requests[0]
