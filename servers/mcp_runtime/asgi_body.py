"""Reading a request body in an ASGI layer and handing the same messages on to the next."""

from __future__ import annotations

from collections import deque

from starlette.types import Message, Receive


async def read_body(
    receive: Receive, limit: int | None = None
) -> tuple[list[Message], bytes | None]:
    """The messages received and the whole body, or None for the body when it is over
    `limit` or the client went away (the next layer then sees the same, replayed)."""
    received: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return received, None
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return received, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return received, b"".join(chunks)


def replay(received: list[Message], receive: Receive) -> Receive:
    """A `receive` that returns `received` first, then whatever `receive` returns."""
    pending = deque(received)

    async def replayed() -> Message:
        if pending:
            return pending.popleft()
        return await receive()

    return replayed
