"""An ASGI app served by uvicorn on uvloop with the runtime's HTTP protocol
(`mcp_runtime.header_timeout`), in a thread of the test process, on a free loopback port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
import uvloop
from mcp_runtime.header_timeout import with_header_timeout
from starlette.types import ASGIApp

from harness.processes import LOOPBACK


@contextmanager
def served_by_runtime_protocol(
    app: ASGIApp, header_timeout: float = 10, send_timeout: float = 60, **config: Any
) -> Iterator[int]:
    """The port `app` is served on until the block ends; `config` goes to uvicorn.Config."""
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=with_header_timeout(header_timeout, send_timeout),
            lifespan="off",
            log_config=None,
            **config,
        )
    )
    thread = threading.Thread(target=lambda: uvloop.run(server.serve([sock])))
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
