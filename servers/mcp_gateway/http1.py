"""POSTs to one upstream over keep-alive HTTP/1.1 connections, each answer read by httptools'
parser (the one uvicorn reads every request of this runtime with).

A relayed call is one POST whose answer is one JSON body (or, from an upstream that streams,
an event stream). For that, a general client spends most of its CPU on what a call does not
use: aiohttp, which this replaced, took 174-184 µs of the gateway's CPU per POST on this
machine, pyreqwest (reqwest under Python) 162 µs, aiosonic 323 µs, and a protocol on
httptools 66 µs (sequential POSTs to the runtime's echo server, client process CPU). The
gateway's own CPU per relayed call fell by about a quarter (`bench/gateway.py`).

What it does, as aiohttp did with the gateway's options:
- connections are kept alive and used again (the most recently used first); those idle longer
  than `keepalive_seconds` are closed at the next POST, never used, so that none is sent on
  just as the upstream closes it (uvicorn closes idle connections after 5 s);
- a POST is never sent twice: when the connection breaks before its answer, the call fails
  (`UpstreamDisconnected`), as RFC 9112 (9.3.1) asks of a client for a request that is not
  idempotent;
- an answer that is not read to its end, or that says `Connection: close`, closes its
  connection; so does a call cancelled while it waits;
- gzip and deflate bodies are decompressed (the SDK's client asks for them);
- https with the system's certificate authorities; no proxy from the environment.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit, urlunsplit

import httptools
import httpx2

# Bytes of an answer held unread before the connection stops reading: an event stream's
# reader takes them as they come, and a JSON body is read whole anyway.
_HELD_BYTES_BEFORE_PAUSE = 256 * 1024
# What frames a request on the connection: written from the request itself, never passed on
# (FastMCP's forwardable headers leave them out too).
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})
# A character that would end a header line, or the request's head, early.
_LINE_BREAK = re.compile("[\r\n\0]")


class UpstreamDisconnected(ConnectionError):
    """The upstream closed the connection, or sent what is no HTTP, before its answer ended."""


class Answer:
    """One POST's answer: its status and headers (names in lower case, repeated ones joined
    with ", "), then its body, whole (`read`) or as it comes (`chunks`)."""

    def __init__(self, url: str, drained: Callable[[], None]) -> None:
        self.url = url
        # Called when the reader waits for more: the connection reads again if it paused.
        self._drained = drained
        self.status = 0
        self.headers: dict[str, str] = {}
        self._chunks: deque[bytes] = deque()
        self._held = 0
        self._complete = False
        self._error: BaseException | None = None
        self._arrived = asyncio.Event()
        self._decompress: zlib._Decompress | None = None

    @property
    def complete(self) -> bool:
        return self._complete

    async def read(self) -> bytes:
        """The whole body."""
        while not self._complete:
            await self._more()
        self._raise_error()
        body = b"".join(self._chunks)
        self._chunks.clear()
        return body

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive."""
        while True:
            while self._chunks:
                yield self._take()
            if self._complete:
                self._raise_error()
                return
            await self._more()

    def redirect_target(self) -> str | None:
        """Where a redirect points, without its credentials, query or fragment."""
        location = self.headers.get("location")
        if location is None:
            return None
        parts = urlsplit(urljoin(self.url, location))
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))

    def _take(self) -> bytes:
        chunk = self._chunks.popleft()
        self._held -= len(chunk)
        return chunk

    async def _more(self) -> None:
        self._arrived.clear()
        self._drained()
        await self._arrived.wait()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    # Called by the connection as the answer arrives.

    def _begin(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.headers = headers
        encoding = headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            # 32 + the largest window: zlib reads a gzip or a zlib header, whichever came.
            self._decompress = zlib.decompressobj(32 + zlib.MAX_WBITS)

    def _body(self, data: bytes) -> int:
        if self._decompress is not None:
            try:
                data = self._decompress.decompress(data)
            except zlib.error as error:
                self._fail(UpstreamDisconnected(f"the answer's body is not what it says: {error}"))
                return self._held
        if data:
            self._chunks.append(data)
            self._held += len(data)
            self._arrived.set()
        return self._held

    def _end(self) -> None:
        if self._decompress is not None and (rest := self._decompress.flush()):
            self._chunks.append(rest)
        self._complete = True
        self._arrived.set()

    def _fail(self, error: BaseException) -> None:
        if not self._complete:
            self._error = error
            self._complete = True
        self._arrived.set()


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request written, its answer parsed, then the next."""

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.idle_since = 0.0
        self._answer: Answer | None = None
        self._head: asyncio.Future[Answer] | None = None
        self._headers: dict[str, str] = {}
        self._ends_at_close = False
        self._keep_alive = False
        self._paused = False

    def send(self, request: bytes, answer: Answer) -> asyncio.Future[Answer]:
        """Write `request`; the future resolves once the answer's head is in."""
        assert self.transport is not None and self._answer is None
        self._answer = answer
        self._head = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._head

    def reusable(self) -> bool:
        return (
            not self.lost
            and self._answer is None
            and self.transport is not None
            and not self.transport.is_closing()
        )

    def finished(self, answer: Answer) -> bool:
        """Whether the connection can carry another request after `answer`."""
        if self._answer is answer:  # not read to its end
            return False
        return answer.complete and self._keep_alive and self.reusable()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._failed(UpstreamDisconnected(f"the upstream's answer is not HTTP/1.1: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._answer is not None and self._answer.status and self._ends_at_close:
            self.on_message_complete()  # a body that ends where the connection does
            return
        reason = f": {exc}" if exc else ""
        self._failed(
            UpstreamDisconnected(f"the upstream closed the connection before its answer{reason}")
        )

    # httptools' callbacks

    def on_message_begin(self) -> None:
        self._headers = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self._headers[key] = f"{self._headers[key]}, {text}" if key in self._headers else text

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        answer = self._answer
        if answer is None or 100 <= status < 200:
            return  # an interim answer (100 Continue): the real one follows
        headers = self._headers
        # Known only here: httptools forgets it once the message is complete.
        self._keep_alive = self._parser.should_keep_alive()
        self._ends_at_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and status not in (204, 304)
        )
        answer._begin(status, headers)
        if self._head is not None and not self._head.done():
            self._head.set_result(answer)

    def on_body(self, body: bytes) -> None:
        if self._answer is None or self._answer._body(body) <= _HELD_BYTES_BEFORE_PAUSE:
            return
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        answer = self._answer
        if answer is None or not answer.status:
            return  # the end of an interim answer
        self._answer = None
        answer._end()
        # The pause may have come in the same read as the end: the next answer needs reading.
        self.drained()

    def drained(self) -> None:
        if self._paused and self.transport is not None and not self.lost:
            self._paused = False
            self.transport.resume_reading()

    def _failed(self, error: BaseException) -> None:
        answer, self._answer = self._answer, None
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        if answer is not None:
            answer._fail(error)


class Http1Connections:
    """POSTs to `url`, on connections kept alive between them: up to `max_idle` idle ones,
    each for up to `keepalive_seconds`."""

    def __init__(
        self, url: str, *, connect_timeout: float, keepalive_seconds: float, max_idle: int
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http or https URL: {url!r}")
        self._url = url
        self._host = parts.hostname
        default_port = 443 if parts.scheme == "https" else 80
        self._port = parts.port or default_port
        self._tls = parts.scheme == "https"
        self._ssl: ssl.SSLContext | None = None
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        # As httpx2 and aiohttp write it: no credentials, the port only when not the default.
        authority = f"[{self._host}]" if ":" in self._host else self._host
        if self._port != default_port:
            authority += f":{self._port}"
        self._request_line = f"POST {target} HTTP/1.1\r\nhost: {authority}\r\n".encode("latin-1")
        self._connect_timeout = connect_timeout
        self._keepalive = keepalive_seconds
        self._max_idle = max_idle
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()

    @asynccontextmanager
    async def post(self, headers: Mapping[str, str], body: bytes) -> AsyncIterator[Answer]:
        """The answer to a POST of `body` with `headers` (names in lower case), once its
        head is in; its connection goes back to the pool when the context ends."""
        request = self._request(headers, body)
        connection = await self._connection()
        answer = Answer(self._url, connection.drained)
        try:
            await connection.send(request, answer)
            yield answer
        finally:
            if connection.finished(answer) and len(self._idle) < self._max_idle:
                connection.idle_since = asyncio.get_running_loop().time()
                self._idle.append(connection)
            else:
                self._discard(connection)

    async def aclose(self) -> None:
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()

    def _request(self, headers: Mapping[str, str], body: bytes) -> bytes:
        lines = [self._request_line, b"content-length: %d\r\n" % len(body)]
        for name, value in headers.items():
            if _LINE_BREAK.search(name) or _LINE_BREAK.search(value):
                raise ValueError(f"header {name!r} holds a line break or NUL")
            if name.lower() in _FRAMING:
                continue  # this request's own, above: a second would frame it twice
            lines.append(_header_bytes(f"{name}: {value}\r\n"))
        lines.append(b"\r\n")
        lines.append(body)
        return b"".join(lines)

    async def _connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        oldest_usable = loop.time() - self._keepalive
        # The idle ones are in the order they came back: the expired ones are at the left,
        # closed here even while a busy upstream's calls keep using the newest.
        while self._idle and self._idle[0].idle_since <= oldest_usable:
            self._discard(self._idle.popleft())
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable():
                return connection
            self._discard(connection)
        if self._tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, self._host, self._port, ssl=self._ssl if self._tls else None
                )
        except TimeoutError:
            raise httpx2.ConnectTimeout(
                f"no connection to {self._host}:{self._port} within {self._connect_timeout:g} s"
            ) from None
        except OSError as error:
            # In the words of FastMCP's own clients (httpx2), so that an upstream that cannot
            # be reached reads the same on every path (the socket's error is chained).
            raise httpx2.ConnectError("All connection attempts failed") from error
        self._open.add(connection)
        return connection

    def _discard(self, connection: _Connection) -> None:
        self._open.discard(connection)
        connection.close()


def _header_bytes(line: str) -> bytes:
    # A caller's header came in as bytes that Starlette decoded as latin-1: the same bytes go
    # on. Text of our own beyond latin-1 goes as UTF-8, as aiohttp and httpx2 send it.
    try:
        return line.encode("latin-1")
    except UnicodeEncodeError:
        return line.encode()
