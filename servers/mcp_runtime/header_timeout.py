"""A deadline for request headers (MCP_HEADER_TIMEOUT_SECONDS), which uvicorn lacks.

uvicorn times out idle keep-alive connections only after a response; a connection that
sends nothing, or its headers a byte at a time, stays open for good. The protocol below is
uvicorn's httptools protocol (what it picks itself when httptools is installed, a dependency
here), as `mcp_runtime.response_writes` extends it, with a deadline set when the connection
opens and when each request begins, and cleared once the request's headers are complete.
A client still sending headers when it passes gets 408 and the connection is closed; one that
sent nothing is just closed; one whose headers follow requests still being answered (HTTP/1.1
pipelining) gets those answers, in order, and then the connection is closed (a 408 before
them would be read as the first one's answer). A head (request line and headers) past
MAX_HEAD_BYTES gets 431 the same way as soon as the bytes received pass it: httptools keeps
every byte of a head until it is complete, so within the deadline a client could send it
without end; trailers past it (headers after a chunked body, which no limit on bodies
counts) close the connection. The header deadlines and uvicorn's keep-alive ones are held
to by one timer each per server (`connection_deadlines`), not by a timer per request.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any, ClassVar

import structlog
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

from mcp_runtime.connection_deadlines import ConnectionDeadlines
from mcp_runtime.cut_off_requests import answer_when_cut_off
from mcp_runtime.response_writes import HeldWritesProtocol

_log = structlog.get_logger("mcp_runtime.header_timeout")

# The most a request's head (request line and headers) may take: httptools keeps all of it
# until it is complete. Twice nginx's default (4 buffers of 8 KiB): room for any token.
MAX_HEAD_BYTES = 64 * 1024


class HeaderTimeoutProtocol(HeldWritesProtocol):
    """uvicorn's httptools protocol with a header deadline of `header_timeout` seconds."""

    header_timeout: ClassVar[float] = 10.0
    # The server's connections' deadlines: for headers, and for idle keep-alive connections
    # by uvicorn's `timeout_keep_alive`.
    header_deadlines: ClassVar[ConnectionDeadlines] = ConnectionDeadlines(header_timeout)
    idle_deadlines: ClassVar[dict[float, ConnectionDeadlines]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_begun = False
        self._headers_due = False
        self._head_bytes = 0
        # Set once a head is refused behind answers still being sent; the rest is dropped.
        self._head_refused = False
        # For bounding what httptools keeps of a request outside its body (data_received).
        self._messages_begun = 0
        self._in_body = False
        self._body_came = False
        self._unbodied_bytes = 0
        idle = type(self).idle_deadlines
        self._idle = idle.get(self.timeout_keep_alive) or idle.setdefault(
            self.timeout_keep_alive, ConnectionDeadlines(self.timeout_keep_alive)
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        self._idle.clear(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_refused:
            return  # the connection closes once the answers before the refused head are sent
        # A chunk that began and ended inside one request's head is all head; one that began
        # and ended inside its body without carrying any is chunk framing or trailers (headers
        # after a chunked body). httptools keeps a head, and each trailer, until it ends.
        message, in_head, in_body = self._messages_begun, self._headers_due, self._in_body
        self._body_came = False
        super().data_received(data)
        if message != self._messages_begun:
            return
        if in_head and self._headers_due:
            self._count_head(len(data))
        elif in_body and self._in_body:
            self._count_unbodied(len(data))

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._stop_header_clock()
            _log.info("request_headers_too_large", client=_address(self.client))
            self._refuse_head(431, f"request headers too large: over {MAX_HEAD_BYTES} bytes")

    def _count_unbodied(self, size: int) -> None:
        if self._body_came:
            self._unbodied_bytes = 0
            return
        self._unbodied_bytes += size
        if self._unbodied_bytes > MAX_HEAD_BYTES:
            # The app has the request, so the answer is its to give: the connection is
            # closed, which it sees as the client gone.
            _log.info("request_trailers_too_large", client=_address(self.client))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._messages_begun += 1
        self._request_begun = True
        if not self._headers_due:
            self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        self._request_begun = False
        self._in_body = True
        self._unbodied_bytes = 0
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_came = True
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # uvicorn 0.55's, with the keep-alive deadline in `idle_deadlines` instead of a
        # timer of its own.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle.set(self, self.loop, self.timeout_keep_alive_handler)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # Every request's task, the pipelined ones' too, answers a cut-off by the stop itself.
        super()._start_asgi_task(cycle, partial(answer_when_cut_off, app, cycle))

    def _unset_keepalive_if_required(self) -> None:
        self._idle.clear(self)

    def _start_header_clock(self) -> None:
        self._headers_due = True
        self._head_bytes = 0
        self.header_deadlines.set(self, self.loop, self._headers_too_slow)

    def _stop_header_clock(self) -> None:
        if self._headers_due:
            self._headers_due = False
            self.header_deadlines.clear(self)

    def _headers_too_slow(self) -> None:
        self._headers_due = False
        if self.transport.is_closing():
            return
        if self._request_begun:
            _log.info("request_header_timeout", client=_address(self.client))
            message = (
                f"request headers not received within"
                f" MCP_HEADER_TIMEOUT_SECONDS={self.header_timeout:g} s"
            )
            self._refuse_head(408, message)
        else:
            self.transport.close()

    def _refuse_head(self, status: int, message: str) -> None:
        """Answer `status` and `message` to the request whose head is coming, and close."""
        last = self._last_cycle_answering()
        if last is not None:
            # Pipelined behind requests still being answered: an answer now would be read as
            # the first one's. The connection closes once theirs are sent.
            last.keep_alive = False
            self._head_refused = True
            return
        self.transport.write(self._refusal(status, message))
        self.transport.close()

    def _last_cycle_answering(self) -> RequestResponseCycle | None:
        """The last request of this connection whose answer is still to be sent, if any."""
        if self.pipeline:
            cycle: RequestResponseCycle = self.pipeline[0][0]  # appended on the left
            return cycle
        if self.cycle is not None and not self.cycle.response_complete:
            return self.cycle
        return None

    def _refusal(self, status: int, message: str) -> bytes:
        body = json.dumps({"error": message}).encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        return b"".join(head) + body


def with_header_timeout(seconds: float, send_timeout: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for uvicorn's `http=` with a header deadline of `seconds`, and
    `send_timeout` for a client to read an answer (`HeldWritesProtocol`)."""
    return type(
        "HeaderTimeoutProtocol",
        (HeaderTimeoutProtocol,),
        {
            "header_timeout": seconds,
            "send_timeout": send_timeout,
            "header_deadlines": ConnectionDeadlines(seconds),
            "idle_deadlines": {},
        },
    )


def _address(client: tuple[str, int] | None) -> str | None:
    return f"{client[0]}:{client[1]}" if client is not None else None
