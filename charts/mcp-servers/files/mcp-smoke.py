"""Smoke test run by `helm test`: initialize, tools/list and one tools/call over streamable HTTP.

Standard library only, so any image with python3 can run it. Reads MCP_URL, MCP_TEST_TOOL,
MCP_TEST_ARGUMENTS (JSON object) and optionally MCP_AUTH_TOKEN; exits non-zero with a message
naming the failing step. With MCP_TEST_AUTH=oauth and no token (a pod cannot get one from the
issuer) it checks instead that the server refuses a call without one.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

PROTOCOL_VERSION = "2025-11-25"


class SmokeError(Exception):
    """A step of the MCP conversation failed."""


def parse_body(content_type: str, body: str) -> list[dict]:
    """Return the JSON-RPC messages of a JSON or server-sent-events response body."""
    if content_type.startswith("text/event-stream"):
        messages = []
        for event in body.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(
                line[5:].lstrip() for line in event.split("\n") if line.startswith("data:")
            )
            if data:
                messages.append(json.loads(data))
        return messages
    return [json.loads(body)] if body.strip() else []


class McpHttp:
    """Just enough of a streamable-HTTP MCP client to prove a server answers."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.next_id = 1

    def post(self, payload: dict) -> tuple[dict, list[dict]]:
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), headers=self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read().decode()
                return dict(response.headers), parse_body(
                    response.headers.get("Content-Type", ""), body
                )
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise SmokeError(f"{payload['method']}: HTTP {error.code}: {detail}") from error

    def call(self, method: str, params: dict) -> dict:
        request_id = self.next_id
        self.next_id += 1
        headers, messages = self.post(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        )
        if method == "initialize":
            session = headers.get("Mcp-Session-Id") or headers.get("mcp-session-id")
            if session:
                self.headers["Mcp-Session-Id"] = session
        for message in messages:
            if message.get("id") == request_id:
                if "error" in message:
                    raise SmokeError(f"{method}: {message['error']}")
                return message["result"]
        raise SmokeError(f"{method}: no response with id {request_id} in {messages}")

    def notify(self, method: str) -> None:
        self.post({"jsonrpc": "2.0", "method": method})


def is_read_only(tool: dict) -> bool:
    return (tool.get("annotations") or {}).get("readOnlyHint") is True


def may_destroy(tool: dict) -> bool:
    """True unless the tool is read-only or says destructiveHint: false (MCP's default is true)."""
    annotations = tool.get("annotations") or {}
    return not is_read_only(tool) and annotations.get("destructiveHint", True) is not False


def pick_tool(tools: list[dict], wanted: str) -> str:
    """The configured tool, else a read-only tool that needs no arguments.

    Without test.tool a tool that may destroy data is never called: a helm test must leave the
    server's data as it found it.
    """
    names = [tool["name"] for tool in tools]
    if wanted:
        if wanted not in names:
            raise SmokeError(f"tools/list: tool {wanted!r} not offered (tools: {names})")
        return wanted
    no_arguments = [tool for tool in tools if not tool.get("inputSchema", {}).get("required")]
    read_only = [tool for tool in no_arguments if is_read_only(tool)]
    harmless = [tool for tool in no_arguments if not may_destroy(tool)]
    if read_only or harmless:
        return (read_only or harmless)[0]["name"]
    raise SmokeError(
        "tools/list: no read-only or non-destructive tool without required arguments; "
        f"set test.tool and test.arguments (tools: {names})"
    )


def open_conversation(url: str, token: str | None, client_name: str) -> tuple[McpHttp, dict]:
    """Initialize an MCP conversation; returns the client and the server's initialize result."""
    client = McpHttp(url, token)
    info = client.call(
        "initialize",
        {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "0.1.0"},
        },
    )
    client.headers["MCP-Protocol-Version"] = info.get("protocolVersion", PROTOCOL_VERSION)
    client.notify("notifications/initialized")
    return client, info


def smoke(url: str, tool: str, arguments: dict, token: str | None) -> str:
    client, info = open_conversation(url, token, "mcp-servers-helm-test")
    tools = client.call("tools/list", {}).get("tools", [])
    name = pick_tool(tools, tool)
    result = client.call("tools/call", {"name": name, "arguments": arguments})
    if result.get("isError"):
        raise SmokeError(f"tools/call {name}: tool reported an error: {result.get('content')}")
    server = info.get("serverInfo", {}).get("name", "?")
    return f"ok: {server} at {url}: {len(tools)} tools, called {name}"


def refuses_anonymous(url: str) -> str:
    """The server answers, and answers 401 to an initialize without a token."""
    try:
        McpHttp(url, None).call(
            "initialize",
            {
                "protocolVersion": PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcp-servers-helm-test", "version": "0.1.0"},
            },
        )
    except SmokeError as error:
        if isinstance(error.__cause__, urllib.error.HTTPError) and error.__cause__.code == 401:
            return f"ok: {url} refuses a call without a token (HTTP 401, auth.mode oauth)"
        raise
    raise SmokeError("initialize: answered without a token, though auth.mode is oauth")


def main() -> int:
    url = os.environ["MCP_URL"]
    arguments = json.loads(os.environ.get("MCP_TEST_ARGUMENTS") or "{}")
    deadline = time.monotonic() + float(os.environ.get("MCP_TEST_TIMEOUT_SECONDS", "60"))
    while True:
        try:
            tool = os.environ.get("MCP_TEST_TOOL", "")
            token = os.environ.get("MCP_AUTH_TOKEN")
            if os.environ.get("MCP_TEST_AUTH") == "oauth" and not token:
                print(refuses_anonymous(url))
            else:
                print(smoke(url, tool, arguments, token))
            return 0
        except (SmokeError, OSError) as error:
            # Right after install the Service may have no endpoints yet: retry until the deadline.
            if time.monotonic() > deadline:
                print(f"FAILED: {error}", file=sys.stderr)
                return 1
            time.sleep(2)


if __name__ == "__main__":
    sys.exit(main())
