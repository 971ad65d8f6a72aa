"""A stdio MCP server for the bridge's tests, on the standard library only so that it starts
in milliseconds. Each flag makes it misbehave in one way; its tools misbehave on request."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

_out = threading.Lock()
_args: argparse.Namespace


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": properties},
    }


TOOLS = [
    _tool("echo", "Return the text.", {"text": {"type": "string"}}),
    _tool("crash", "Exit at once with the code, answering nothing.", {"code": {"type": "integer"}}),
    _tool(
        "gated",
        "Answer once the file `gate` exists; creates `<gate>.entered` first.",
        {"gate": {"type": "string"}},
    ),
    _tool("huge", "Answer with a text of `megabytes` MB.", {"megabytes": {"type": "integer"}}),
    _tool("pids", "This process's pid, group and grandchild.", {}),
    _tool("env_names", "The names of the environment variables starting with MCP_.", {}),
    _tool("log", "Send a log notification of `level`, then answer.", {"level": {"type": "string"}}),
    _tool(
        "verbatim",
        "Answer with `result` as the JSON-RPC result, or `error` as the JSON-RPC error, as is.",
        {"result": {"type": "object"}, "error": {"type": "object"}},
    ),
    _tool("meta", "The request's `_meta` as it came, the progress token's value left out.", {}),
]

LATE_TOOL = _tool("late", "A tool that appears after the first tools/list.", {})
_listed = False


def send(message: dict[str, Any]) -> None:
    line = json.dumps(message)
    with _out:
        if _args.garbage:
            sys.stdout.write("this line is not JSON-RPC\n")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def text_result(request_id: object, text: str) -> None:
    send(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "result": {"content": [{"type": "text", "text": text}]},
        }
    )


def call_tool(
    request_id: object, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None
) -> None:
    if name == "echo":
        text_result(request_id, arguments["text"])
    elif name == "crash":
        sys.stdout.flush()
        os._exit(int(arguments["code"]))
    elif name == "gated":
        gate = Path(arguments["gate"])
        _gates[request_id] = gate
        gate.with_name(gate.name + ".entered").touch()
        while not gate.exists():
            time.sleep(0.02)
        text_result(request_id, "gate open")
    elif name == "huge":
        text_result(request_id, "x" * (int(arguments["megabytes"]) * 1024 * 1024))
    elif name == "pids":
        text_result(
            request_id,
            json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0), "grandchild": _grandchild}),
        )
    elif name == "log":
        params = {"level": arguments["level"], "logger": "fake", "data": "disk almost full"}
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": params})
        text_result(request_id, "logged")
    elif name == "late":
        text_result(request_id, "late")
    elif name == "verbatim":
        key = "error" if "error" in arguments else "result"
        send({"jsonrpc": "2.0", "id": request_id, key: arguments[key]})
    elif name == "meta":
        # The token is the request's id, which differs from call to call.
        seen = {k: "<token>" if k == "progressToken" else v for k, v in (meta or {}).items()}
        text_result(request_id, json.dumps(seen, sort_keys=True))
    elif name == "env_names":
        text_result(request_id, json.dumps(sorted(k for k in os.environ if k.startswith("MCP_"))))
    else:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": name}})


def handle(message: dict[str, Any]) -> None:
    global _listed
    method = message.get("method")
    request_id = message.get("id")
    if method == "initialize":
        if _args.never_initialize:
            return
        while _args.hold_start and Path(_args.hold_start).exists():
            time.sleep(0.02)
        send(
            {
                "jsonrpc": "2.0",
                "id": request_id,
                "result": {
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities": {"tools": {"listChanged": False}},
                    "serverInfo": {"name": "fake", "version": "1.0"},
                    "instructions": "A fake server for tests.",
                },
            }
        )
    elif method == "tools/list":
        tools = [*TOOLS, LATE_TOOL] if _args.late_tool and _listed else TOOLS
        send({"jsonrpc": "2.0", "id": request_id, "result": {"tools": tools}})
        if _args.late_tool and not _listed:
            # A server that registers a tool after start-up says so.
            send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        _listed = True
    elif method == "tools/call":
        params = message["params"]
        # Calls run concurrently, as a real server's do.
        threading.Thread(
            target=call_tool,
            args=(request_id, params["name"], params.get("arguments") or {}, params.get("_meta")),
            daemon=True,
        ).start()
    elif method == "notifications/cancelled":
        # A gated call cancelled says so beside its gate: `<gate>.cancelled`.
        gate = _gates.get(message["params"]["requestId"])
        if gate is not None:
            gate.with_name(gate.name + ".cancelled").touch()
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": request_id, "result": {}})
    elif request_id is not None:
        send({"jsonrpc": "2.0", "id": request_id, "error": {"code": -32601, "message": method}})


_grandchild: int | None = None
# The gate of each `gated` call, by its request id.
_gates: dict[object, Path] = {}


def main() -> None:
    global _args, _grandchild
    parser = argparse.ArgumentParser()
    parser.add_argument("--stderr", help="write this line to stderr at start")
    parser.add_argument("--exit-at-start", type=int, help="exit with this code at once")
    parser.add_argument("--never-initialize", action="store_true")
    parser.add_argument("--hold-start", help="answer initialize only once this file is gone")
    parser.add_argument("--garbage", action="store_true", help="write a non-JSON line before each")
    parser.add_argument("--fork-grandchild", action="store_true", help="fork a sleeping child")
    parser.add_argument("--late-tool", action="store_true", help="add a tool after tools/list")
    _args = parser.parse_args()
    if _args.stderr:
        print(_args.stderr, file=sys.stderr, flush=True)
    if _args.exit_at_start is not None:
        sys.exit(_args.exit_at_start)
    if _args.fork_grandchild:
        pid = os.fork()
        if pid == 0:
            # Stays in the group and keeps the inherited pipes open, as helper processes do.
            while True:
                time.sleep(60)
        _grandchild = pid
    if _args.garbage:
        with _out:
            sys.stdout.write("Starting fake server...\n")
            sys.stdout.flush()
    for line in sys.stdin:
        if line.strip():
            handle(json.loads(line))


if __name__ == "__main__":
    main()
