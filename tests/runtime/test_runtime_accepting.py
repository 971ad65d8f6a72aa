"""The runtime accepts every waiting connection per wake-up of the event loop, where uvloop's own
servers take one per turn (mcp_runtime.accepting): on uvloop, the loop every server runs."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable

import uvloop
from mcp_runtime.accepting import AcceptingServer

WAITING = 20
# Enough for the listening socket's wake-up and for the tasks it starts to make protocols.
TURNS = 3

Listen = Callable[[socket.socket, Callable[[], asyncio.Protocol]], Awaitable[Callable[[], None]]]


class Counted(asyncio.Protocol):
    made = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Counted.made += 1


def served_after_a_few_turns(listen: Listen) -> int:
    """How many of `WAITING` connections, all queued before the loop looks, have a protocol
    after `TURNS` turns of a uvloop loop."""

    async def count() -> int:
        Counted.made = 0
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        close = await listen(listening, Counted)
        # Blocking connects: the kernel completes each handshake and queues it.
        clients = [socket.create_connection(listening.getsockname()) for _ in range(WAITING)]
        for _ in range(TURNS):
            await asyncio.sleep(0)
        made = Counted.made
        close()
        for client in clients:
            client.close()
        return made

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(count())


async def accepting_server(
    sock: socket.socket, factory: Callable[[], asyncio.Protocol]
) -> Callable[[], None]:
    return AcceptingServer(sock, factory, backlog=128).close


async def uvloops_server(
    sock: socket.socket, factory: Callable[[], asyncio.Protocol]
) -> Callable[[], None]:
    server = await asyncio.get_running_loop().create_server(factory, sock=sock, backlog=128)
    return server.close


def test_one_wake_up_accepts_every_waiting_connection() -> None:
    assert served_after_a_few_turns(accepting_server) == WAITING


def test_uvloops_own_server_takes_one_connection_a_turn_which_is_why_the_runtime_accepts() -> None:
    # Should a uvloop release accept them all again, AcceptingServer can go.
    assert served_after_a_few_turns(uvloops_server) < WAITING


OUT_OF_DESCRIPTORS = textwrap.dedent(
    """
    import asyncio, os, resource, socket, sys
    import uvloop
    from mcp_runtime.accepting import AcceptingServer
    from mcp_runtime.logs import configure_logging

    CLIENTS = int(sys.argv[1])
    served = []
    all_served = asyncio.Event()

    class Served(asyncio.Protocol):
        def connection_made(self, transport):
            transport.write(b"served")
            transport.close()
            served.append(transport)
            if len(served) == CLIENTS:
                all_served.set()

    async def main():
        configure_logging("info")
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        AcceptingServer(listening, Served, backlog=128)
        # Room for two connections at a time, no more.
        open_now = len(os.listdir("/proc/self/fd"))
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 2, hard))
        print(listening.getsockname()[1], flush=True)
        await asyncio.wait_for(all_served.wait(), timeout=20)
        # Let the last answers leave before the process does.
        await asyncio.sleep(0.1)

    uvloop.run(main())
    """
)


CLIENTS = 6


def test_out_of_descriptors_it_pauses_says_why_and_then_serves_every_connection() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", OUT_OF_DESCRIPTORS, str(CLIENTS)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    try:
        port = int(server.stdout.readline())
        clients = [
            socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(CLIENTS)
        ]
        answers = [client.recv(100) for client in clients]
        for client in clients:
            client.close()
        events = [json.loads(line) for line in server.stdout]
    finally:
        server.kill()
        server.wait()
    assert answers == [b"served"] * CLIENTS
    paused = [e for e in events if e["event"] == "accepting_paused"]
    assert paused, events
    assert paused[0]["reason"] == "Too many open files"
    assert paused[0]["resume_after_seconds"] == 1.0
