"""The least a Python MCP gateway can cost: a bare ASGI app that forwards each POST to one
upstream and hands back its answer, with no MCP beyond renaming the tool.

It reads the JSON-RPC body, strips the upstream's namespace from a `tools/call`'s tool
name (`echo_echo` -> `echo`, as a gateway that namespaces must; in the body and in the
`Mcp-Name` header), posts the body to the upstream over a keep-alive connection of the
HTTP client `mcp-gateway` relays calls with (`mcp_gateway.http1`), with the caller's content
type, accept and `Mcp-*` headers, and returns the
upstream's status, content type, session id and body as they came. No validation, no
metrics, no logs, no auth, no drain: everything `mcp-gateway` does besides is left out.
On the same uvicorn, httptools and uvloop as the runtime.

    python bench/peers/bare_forwarder.py UPSTREAM_URL NAMESPACE PORT

Anything but a POST is answered 404 here, which tells the bench it is up.
"""

import json
import sys
from typing import Any

import uvicorn
from mcp_gateway.connections import CONNECT_TIMEOUT_SECONDS, IDLE_CONNECTIONS_KEPT, IDLE_SECONDS
from mcp_gateway.http1 import Http1Connections

FORWARDED = (b"content-type", b"accept")
RETURNED = ("content-type", "mcp-session-id")


class Forwarder:
    def __init__(self, upstream: str, namespace: str) -> None:
        self._prefix = f"{namespace}_"
        self._connections = Http1Connections(
            upstream,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            keepalive_seconds=IDLE_SECONDS,
            max_idle=IDLE_CONNECTIONS_KEPT,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["method"] != "POST":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {
            name.decode(): value.decode()
            for name, value in scope["headers"]
            if name in FORWARDED or name.startswith(b"mcp-")
        }
        request = json.loads(body) if body else None
        if not isinstance(request, dict):
            request = {}
        params = request.get("params")
        if request.get("method") == "tools/call" and isinstance(params, dict):
            params["name"] = str(params.get("name", "")).removeprefix(self._prefix)
            body = json.dumps(request, separators=(",", ":")).encode()
            # The 2026-07-28 revision repeats the tool's name in a header.
            if "mcp-name" in headers:
                headers["mcp-name"] = params["name"]
        async with self._connections.post(headers, body) as answer:
            payload = await answer.read()
            returned = [
                (name.encode(), answer.headers[name].encode())
                for name in RETURNED
                if name in answer.headers
            ]
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": [*returned, (b"content-length", str(len(payload)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": payload})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._connections.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


if __name__ == "__main__":
    upstream, namespace, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    uvicorn.run(
        Forwarder(upstream, namespace),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )
