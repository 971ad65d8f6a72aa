"""Load for the cluster tests (rollouts, autoscaling, evictions), run in a pod on the cluster:
create_task calls on the todo server through its Service until /tmp/stop appears; then every task
it was told was created is read back. Prints one JSON summary line and exits 0.

LOAD_CLIENTS says which clients, and how many of each, e.g. `handshake:4` (the default) or
`handshake:2,session-less:2,session-based:2`:
- handshake: the chart's helm-test client (mcp_smoke.py, standard library, mounted next to this
  file): a 2025-11-25 `initialize` and one call per conversation, each over a new connection, so
  each call lands on whichever pod the Service picks at that moment;
- session-less: one FastMCP client per worker (2026-07-28, no handshake), kept open;
- session-based: one FastMCP client per worker with `mode="legacy"` (2025-11-25: one
  `initialize`, then every call in that conversation, `Mcp-Session-Id` when the server gives one),
  kept open for the whole run.
The runtime image has FastMCP; the standard-library path needs nothing else.

LOAD_TOOL_PREFIX ("") goes before the tool names: `todo_` when MCP_URL is a gateway in front of
todo.

LOAD_PAUSE_SECONDS (0) paces each worker: a light load that keeps calling without keeping a pod
busy. LOAD_REINITIALIZE=1: a session-based client whose session is gone opens a new session and
retries the call once, as the MCP specification asks of clients; each such event is counted, not
failed. A stateful server's replaced pod ends a session in one of two ways: a request that reaches
the new pod gets HTTP 404 `Session not found`; one sent on a kept-alive connection as the old pod
exits finds the connection closed, after which that client object fails every call.
LOAD_IDLE_SESSION=1 adds one session-based client that makes a call at the start and its next
only after /tmp/stop: the summary's `idle_session` says what that call met, and whether a new
session then worked.
"""

import asyncio
import contextlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mcp_smoke import McpHttp, open_conversation

URL = os.environ["MCP_URL"]
CLIENTS = os.environ.get("LOAD_CLIENTS", "handshake:" + os.environ.get("LOAD_THREADS", "4"))
PAUSE = float(os.environ.get("LOAD_PAUSE_SECONDS", "0"))
CREATE_TASK = os.environ.get("LOAD_TOOL_PREFIX", "") + "create_task"
GET_TASK = os.environ.get("LOAD_TOOL_PREFIX", "") + "get_task"
REINITIALIZE = os.environ.get("LOAD_REINITIALIZE") == "1"
STOP = Path("/tmp/stop")
KINDS = ("handshake", "session-less", "session-based")
# What a session-based client sees when its session's pod is gone: FastMCP's 404 body
# (`Session not found`) or, without one, the SDK's stand-in for a 404 (`Session terminated`).
SESSION_GONE = ("Session not found", "Session terminated")
# ...and when the old pod closed the connection under a request: the SDK's McpError, or httpx's.
CONNECTION_GONE = ("Connection closed", "ReadError", "RemoteProtocolError")
IDLE_SESSION = os.environ.get("LOAD_IDLE_SESSION") == "1"
CLOSE_SECONDS = 10
# Conversations reading the created tasks back: minutes of calls made thousands of tasks, and
# one conversation through a gateway on a loaded node reads them back slower than they came.
READBACK_CONVERSATIONS = 4


class Tally:
    """One client kind's results, shared by its workers."""

    def __init__(self) -> None:
        self.created: list[int] = []
        self.failures: list[str] = []
        self.reinitialized: list[str] = []
        self.lock = threading.Lock()

    def summary(self) -> dict:
        return {
            "created": len(self.created),
            "failure_count": len(self.failures),
            "failures": self.failures[:10],
            "reinitialized": len(self.reinitialized),
            "reinitialized_after": self.reinitialized[:5],
        }


def parse_clients(spec: str) -> dict[str, int]:
    clients = {}
    for item in spec.split(","):
        kind, _, count = item.strip().partition(":")
        if kind not in KINDS or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"LOAD_CLIENTS: {item!r} is not KIND:COUNT with KIND one of {KINDS}")
        clients[kind] = int(count)
    return clients


def conversation() -> McpHttp:
    return open_conversation(URL, None, "upgrade-load")[0]


def structured(result: dict) -> dict:
    return result.get("structuredContent") or json.loads(result["content"][0]["text"])


def handshake_worker(index: int, tally: Tally) -> None:
    sequence = 0
    while not STOP.exists():
        sequence += 1
        title = f"handshake {index}-{sequence}"
        try:
            result = conversation().call(
                "tools/call", {"name": CREATE_TASK, "arguments": {"title": title}}
            )
            if result.get("isError"):
                tally.failures.append(f"{title}: {result.get('content')}")
            else:
                tally.created.append(structured(result)["id"])
        except Exception as error:  # every failure is a lost call to report
            tally.failures.append(f"{title}: {type(error).__name__}: {error}")
        time.sleep(PAUSE)


async def open_client(kind: str):
    from fastmcp import Client

    client = Client(URL, mode="legacy" if kind == "session-based" else "auto", timeout=30)
    await client.__aenter__()
    return client


async def close_client(client) -> None:
    # A session-based client ends its session with a DELETE, which a gone pod cannot answer;
    # a replaced pod's half-closed stream must not hold the load's end either.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.__aexit__(None, None, None), CLOSE_SECONDS)


async def create(client, title: str) -> int:
    result = await client.call_tool(CREATE_TASK, {"title": title}, raise_on_error=False)
    if result.is_error:
        raise RuntimeError(f"tool error: {result.content}")
    data = result.structured_content or json.loads(result.content[0].text)
    return data["id"]


async def fastmcp_worker(kind: str, index: int, tally: Tally) -> None:
    client = await open_client(kind)
    sequence = 0
    while not STOP.exists():
        sequence += 1
        title = f"{kind} {index}-{sequence}"
        try:
            tally.created.append(await create(client, title))
        except Exception as error:
            text = f"{title}: {type(error).__name__}: {error}"
            if (
                REINITIALIZE
                and kind == "session-based"
                and any(s in text for s in SESSION_GONE + CONNECTION_GONE)
            ):
                tally.reinitialized.append(text)
                await close_client(client)
                client = await open_client(kind)
                try:
                    tally.created.append(await create(client, title))
                except Exception as retry_error:
                    tally.failures.append(
                        f"{title} (retried): {type(retry_error).__name__}: {retry_error}"
                    )
            else:
                tally.failures.append(text)
        await asyncio.sleep(PAUSE)
    await close_client(client)


async def idle_session(outcome: dict[str, str]) -> None:
    client = await open_client("session-based")
    await create(client, "idle session 1")
    while not STOP.exists():
        await asyncio.sleep(0.5)
    try:
        await create(client, "idle session 2")
        outcome["after_stop"] = "ok"
    except Exception as error:
        outcome["after_stop"] = f"{type(error).__name__}: {error}"
    await close_client(client)
    client = await open_client("session-based")
    await create(client, "idle session 3")
    outcome["new_session"] = "ok"
    await close_client(client)


async def fastmcp_workers(
    clients: dict[str, int], tallies: dict[str, Tally], idle: dict[str, str]
) -> None:
    await asyncio.gather(
        *(
            fastmcp_worker(kind, index, tallies[kind])
            for kind, count in clients.items()
            if kind != "handshake"
            for index in range(count)
        ),
        *([idle_session(idle)] if IDLE_SESSION else []),
    )


def wait_until_admitted(seconds: float = 60) -> None:
    """The server's NetworkPolicy admits this pod once the policy controller has seen its IP."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            conversation()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def find_missing(task_ids: list[int]) -> list[int]:
    """The created tasks the server cannot find, read back over a few conversations at once."""
    shares = [task_ids[i::READBACK_CONVERSATIONS] for i in range(READBACK_CONVERSATIONS)]

    def read(share: list[int]) -> list[int]:
        client = conversation()
        return [
            task_id
            for task_id in share
            if client.call("tools/call", {"name": GET_TASK, "arguments": {"task_id": task_id}}).get(
                "isError"
            )
        ]

    with ThreadPoolExecutor(READBACK_CONVERSATIONS) as pool:
        return sorted(task_id for found in pool.map(read, shares) for task_id in found)


def main() -> None:
    clients = parse_clients(CLIENTS)
    tallies = {kind: Tally() for kind in clients}
    idle: dict[str, str] = {}
    wait_until_admitted()
    threads = [
        threading.Thread(target=handshake_worker, args=(i, tallies["handshake"]))
        for i in range(clients.get("handshake", 0))
    ]
    if set(clients) - {"handshake"} or IDLE_SESSION:
        threads.append(
            threading.Thread(target=asyncio.run, args=(fastmcp_workers(clients, tallies, idle),))
        )
    began = time.monotonic()
    for thread in threads:
        thread.start()
    Path("/tmp/started").touch()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    created = [task_id for tally in tallies.values() for task_id in tally.created]
    read_back = time.monotonic()
    missing = find_missing(created)
    failures = [failure for tally in tallies.values() for failure in tally.failures]
    print(
        json.dumps(
            {
                "calls": len(created) + len(failures),
                "created": len(created),
                "failures": failures[:20],
                "failure_count": len(failures),
                "missing": missing[:20],
                "seconds": round(seconds, 1),
                "read_back_seconds": round(time.monotonic() - read_back, 1),
                "kinds": {kind: tally.summary() for kind, tally in tallies.items()},
                "idle_session": idle,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
