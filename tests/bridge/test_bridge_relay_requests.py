"""The tool relay's requests (`ChildPipes.request`), beside the session, against a scripted
child: what the child receives, and how each way a call can end reaches the caller."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import mcp_types
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.shared.exceptions import MCPError
from mcp_bridge import transport
from mcp_bridge.child import ChildProcess
from mcp_bridge.transport import ChildPipes, child_streams

# Reads requests, writes each to the file in argv[1] as received, and answers by tool name.
SCRIPTED_CHILD = r"""
import json, sys, threading, time
seen = open(sys.argv[1], "a", buffering=1)
writing = threading.Lock()

def answer_later(rid, seconds, text):
    time.sleep(seconds)
    with writing:
        result = {"content": [{"type": "text", "text": text}]}
        print(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}), flush=True)

for line in sys.stdin:
    message = json.loads(line)
    seen.write(line)
    if message.get("method") != "tools/call":
        continue
    rid, params = message["id"], message["params"]
    name = params["name"]
    result = {"content": [{"type": "text", "text": name}]}
    if name == "silent":
        continue
    if name == "stop_reading":  # a blocked event loop: stdin is no longer read
        time.sleep(3600)
    if name in ("late_and_too_long", "later"):
        text = "y" * 2_000_000 if name == "late_and_too_long" else name
        after = params["arguments"]["after"]
        threading.Thread(target=answer_later, args=(rid, after, text)).start()
        continue
    if name == "id_as_string":
        rid = str(rid)
    if name == "progress":
        token = params["_meta"]["progressToken"]
        note = {"progressToken": token, "progress": 1, "total": 2}
        print(json.dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": note}))
    if name == "refuse":
        print(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "no"}}))
    else:
        with writing:
            print(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}))
    sys.stdout.flush()
"""


class Scripted:
    def __init__(self, process: ChildProcess, pipes: ChildPipes, seen: Path) -> None:
        self.process = process
        self.pipes = pipes
        self._seen = seen

    def received(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._seen.read_text().splitlines()]

    async def call(
        self, name: str, timeout: float = 10.0, arguments: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        params = {"name": name, "arguments": arguments or {}}
        return await self.pipes.request("tools/call", params, timeout)


@asynccontextmanager
async def scripted_child(tmp_path: Path) -> AsyncIterator[Scripted]:
    script, seen = tmp_path / "child.py", tmp_path / "seen.jsonl"
    script.write_text(SCRIPTED_CHILD)
    seen.touch()
    child = await ChildProcess.start([sys.executable, str(script), str(seen)], {})
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(child.watch)
            async with child_streams(child, 1024 * 1024) as (pipes, session_reads, _):
                # What a session would read (the child's notifications), read and dropped.
                tasks.start_soon(_drain, session_reads)
                yield Scripted(child, pipes, seen)
            tasks.cancel_scope.cancel()
    finally:
        await child.stop(5)


async def _drain(stream: MemoryObjectReceiveStream[Any]) -> None:
    # The pipes close the stream under the reader when they close.
    with suppress(anyio.ClosedResourceError):
        async for _ in stream:
            pass


async def test_a_call_is_sent_as_the_sdk_sends_it_and_gets_its_result(tmp_path: Path) -> None:
    async with scripted_child(tmp_path) as child:
        result = await child.call("plain")
        assert result == {"content": [{"type": "text", "text": "plain"}]}
        (request,) = child.received()
    request_id = request["id"]
    # An integer id, as the SDK's session sends, in a range of the bridge's own.
    assert isinstance(request_id, int) and request_id >= 1_000_000_000
    assert request == {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "plain", "arguments": {}, "_meta": {"progressToken": request_id}},
    }


async def test_an_answer_whose_id_comes_back_as_a_string_still_reaches_its_call(
    tmp_path: Path,
) -> None:
    async with scripted_child(tmp_path) as child:
        result = await child.call("id_as_string")
    assert result["content"][0]["text"] == "id_as_string"


async def test_calls_in_flight_together_each_get_their_own_answer(tmp_path: Path) -> None:
    names = [f"tool-{n}" for n in range(20)]
    answers: dict[str, str] = {}
    async with scripted_child(tmp_path) as child:

        async def call(name: str) -> None:
            answers[name] = (await child.call(name))["content"][0]["text"]

        async with anyio.create_task_group() as tasks:
            for name in names:
                tasks.start_soon(call, name)
    assert answers == {name: name for name in names}


async def test_the_childs_progress_notification_does_not_end_the_call(tmp_path: Path) -> None:
    async with scripted_child(tmp_path) as child:
        result = await child.call("progress")
    assert result["content"][0]["text"] == "progress"


async def test_the_childs_json_rpc_error_is_raised_with_its_code(tmp_path: Path) -> None:
    async with scripted_child(tmp_path) as child:
        with pytest.raises(MCPError) as raised:
            await child.call("refuse")
    assert (raised.value.error.code, raised.value.error.message) == (-32602, "no")


async def test_no_answer_in_time_raises_the_sdks_timeout_and_cancels_the_request(
    tmp_path: Path,
) -> None:
    async with scripted_child(tmp_path) as child:
        with pytest.raises(MCPError) as raised:
            await child.call("silent", timeout=0.2)
        assert raised.value.error.code == mcp_types.REQUEST_TIMEOUT
        # The next call is answered, so the cancellation was written before it.
        await child.call("plain")
        request, cancelled, _ = child.received()
    assert cancelled == {
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": request["id"]},
    }


async def test_a_caller_that_gives_up_cancels_its_request_at_the_child(tmp_path: Path) -> None:
    async with scripted_child(tmp_path) as child:
        with anyio.move_on_after(0.2):
            await child.call("silent")
        await child.call("plain")
        request, cancelled, _ = child.received()
    assert cancelled["method"] == "notifications/cancelled"
    assert cancelled["params"] == {"requestId": request["id"]}


async def test_a_child_that_stops_reading_its_stdin_still_times_calls_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call too large for the pipe's buffer waits in the write itself; the timeout covers
    it, and the cancellation that follows gives up after its own bound (5 s, 1 s here)."""
    monkeypatch.setattr(transport, "_CANCEL_SEND_SECONDS", 1.0)
    async with scripted_child(tmp_path) as child, anyio.create_task_group() as tasks:
        tasks.start_soon(child.call, "stop_reading")
        with anyio.fail_after(10):
            while not child.received():
                await anyio.sleep(0.02)
        began = anyio.current_time()
        with anyio.fail_after(15), pytest.raises(MCPError) as raised:
            await child.call("plain", timeout=1, arguments={"text": "x" * 1_000_000})
        waited = anyio.current_time() - began
        tasks.cancel_scope.cancel()
    # The timeout (1 s), then at most the cancellation's bound trying to tell the child.
    assert waited < 4
    assert raised.value.error.code == mcp_types.REQUEST_TIMEOUT


async def test_the_late_too_long_answer_of_a_call_that_timed_out_is_not_another_calls(
    tmp_path: Path,
) -> None:
    async with scripted_child(tmp_path) as child:
        with pytest.raises(MCPError):
            await child.call("late_and_too_long", timeout=0.3, arguments={"after": 0.6})
        # Waiting while the over-long answer of the call above arrives with its id.
        result = await child.call("later", arguments={"after": 1.2})
    assert result == {"content": [{"type": "text", "text": "later"}]}


async def test_a_call_waiting_when_the_pipes_close_gets_connection_closed(
    tmp_path: Path,
) -> None:
    raised: list[MCPError] = []

    async def waiting(child: Scripted) -> None:
        try:
            await child.call("silent")
        except MCPError as error:
            raised.append(error)

    async with anyio.create_task_group() as tasks, scripted_child(tmp_path) as child:
        tasks.start_soon(waiting, child)
        with anyio.fail_after(10):
            while not child.received():
                await anyio.sleep(0.02)
    assert [error.error.code for error in raised] == [mcp_types.CONNECTION_CLOSED]


async def test_a_call_after_the_child_exited_is_answered_in_its_place(tmp_path: Path) -> None:
    async with scripted_child(tmp_path) as child:
        await child.call("plain")
        await child.process.stop(5)
        # Whether the exit was seen before the call or while it waited, the answer is the same.
        result = await child.call("plain")
    assert result["isError"] is True
    assert "the stdio server was stopped" in result["content"][0]["text"]
