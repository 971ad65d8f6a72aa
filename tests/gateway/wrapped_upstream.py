"""A FastMCP upstream served by uvicorn on a thread of the test process, behind an ASGI
wrapper that changes its answers as what stands in front of a real one may (a compressing
middleware, a proxy answering 503, a server gone silent)."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastmcp import FastMCP
from harness.processes import LOOPBACK
from starlette.types import ASGIApp, Message, Receive, Scope, Send

mcp = FastMCP("wrapped")


@mcp.tool
def echo(text: str) -> str:
    return text


Wrap = Callable[[ASGIApp], ASGIApp]


@dataclass(frozen=True)
class WrappedUpstream:
    base_url: str

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"


@contextmanager
def wrapped_upstream(wrap: Wrap) -> Iterator[WrappedUpstream]:
    """The upstream, `wrap`ped, until the block ends. Requests still held at the end are
    cut after a second."""
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    app = wrap(mcp.http_app(stateless_http=True))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_config=None, timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve([sock])))
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield WrappedUpstream(f"http://{LOOPBACK}:{sock.getsockname()[1]}")
    finally:
        server.should_exit = True
        thread.join(10)


async def request_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


def replaying(body: bytes) -> Receive:
    """A `receive` that gives `body` again, once read by the wrapper."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # as a client that keeps its request open
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def method_of(body: bytes) -> str | None:
    try:
        message = json.loads(body)
    except ValueError:
        return None
    return message.get("method") if isinstance(message, dict) else None


def header(scope: Scope, name: bytes) -> str:
    return b", ".join(v for k, v in scope["headers"] if k.lower() == name).decode("latin-1")


async def answer(send: Send, status: int, content_type: bytes, body: bytes, **more: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += [(name.replace("_", "-").encode(), value) for name, value in more.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def answer_of(app: ASGIApp, scope: Scope, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """What `app` answers to the request of `scope` with `body`, read whole."""
    status, headers, parts = 0, {}, []

    async def keep(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        else:
            parts.append(message.get("body", b""))

    await app(scope, replaying(body), keep)
    return status, headers, b"".join(parts)


def gzipped_events(app: ASGIApp) -> ASGIApp:
    """Answers each POST whose request accepts gzip with one event stream, gzip-compressed:
    as a TypeScript SDK server behind Express' compression() (or nginx's gzip_types
    text/event-stream) answers."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await app(scope, receive, send)
        body = await request_body(receive)
        status, headers, answered = await answer_of(app, scope, body)
        if status != 200 or "gzip" not in header(scope, b"accept-encoding"):
            content_type = headers.get("content-type", "text/plain").encode()
            return await answer(send, status, content_type, answered)
        if headers.get("content-type", "").startswith("application/json"):
            answered = b"event: message\ndata: " + answered + b"\n\n"
        await answer(
            send, 200, b"text/event-stream", gzip.compress(answered), content_encoding=b"gzip"
        )

    return wrapped


@dataclass
class Seen:
    """The headers of each POST that reached the upstream, with its JSON-RPC method."""

    requests: list[tuple[str | None, dict[str, str]]]


def recording(seen: Seen) -> Wrap:
    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                return await app(scope, receive, send)
            body = await request_body(receive)
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in scope["headers"]}
            seen.requests.append((method_of(body), headers))
            await app(scope, replaying(body), send)

        return wrapped

    return wrap


def silent_after_first_listing(app: ASGIApp) -> ASGIApp:
    """Answers until its first tools/list, then reads every request and answers none."""
    listed = False

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal listed
        if scope["type"] != "http":
            return await app(scope, receive, send)
        body = await request_body(receive)
        if listed:
            await asyncio.Event().wait()
        listed = method_of(body) == "tools/list"
        await app(scope, replaying(body), send)

    return wrapped


def silent_to_discover(asked: list[str]) -> Wrap:
    """Answers everything but server/discover, which it reads (noting it in `asked`) and
    never answers."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            body = await request_body(receive)
            if method_of(body) == "server/discover":
                asked.append("server/discover")
                await asyncio.Event().wait()
            await app(scope, replaying(body), send)

        return wrapped

    return wrap


@dataclass
class Switch:
    """Whether the upstream's proxy has an upstream behind it."""

    down: bool = False


def answering_while(switch: Switch, status: int) -> Wrap:
    """While `switch` is down, every request is answered with `status` in plain text, as
    Envoy (a mesh's sidecar) answers 503 for a service with no healthy endpoint."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or not switch.down:
                return await app(scope, receive, send)
            await request_body(receive)
            await answer(send, status, b"text/plain", b"no healthy upstream")

        return wrapped

    return wrap
