"""A tool's ask for input (2026-07-28, SEP-2322) asked and answered over raw HTTP.

The runtime's sample server's `confirmed` asks its caller to confirm, then says which process
answered and the request state the ask carried; through a gateway it is `sample_confirmed`.
"""

from __future__ import annotations

from typing import Any

import httpx

from harness.jsonrpc import modern_request

ANSWERS = {"confirm": {"action": "accept", "content": {}}}
# What the MCP SDK answers for a request state it cannot open, whatever the reason.
REFUSED = {
    "code": -32602,
    "message": "Invalid or expired requestState",
    "data": {"reason": "invalid_request_state"},
}


def post(url: str, tool: str, params: dict[str, Any]) -> httpx.Response:
    """One tools/call of `tool` on a connection of its own."""
    headers, message = modern_request("tools/call", {"name": tool, "arguments": {}, **params})
    return httpx.post(url, headers=headers, json=message, timeout=30)


def ask(url: str, tool: str = "confirmed") -> str:
    """The sealed request state of `tool`'s ask."""
    response = post(url, tool, {})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert set(result["inputRequests"]) == {"confirm"}, result
    state: str = result["requestState"]
    assert state.startswith("v1."), state  # sealed by the SDK's AES-GCM codec
    return state


def answer(url: str, state: str, tool: str = "confirmed") -> httpx.Response:
    return post(url, tool, {"requestState": state, "inputResponses": ANSWERS})


def confirmation(url: str, state: str, tool: str = "confirmed") -> str:
    """What `tool` says once `url` takes the answer to the ask sealed in `state`."""
    response = answer(url, state, tool)
    assert response.status_code == 200, response.text
    text: str = response.json()["result"]["content"][0]["text"]
    return text


def refusal(url: str, state: str, tool: str = "confirmed") -> dict[str, Any]:
    """The JSON-RPC error `url` answers the ask sealed in `state` with."""
    response = answer(url, state, tool)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    return error
