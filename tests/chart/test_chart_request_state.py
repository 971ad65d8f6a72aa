"""`requestState`: every replica of a server seals a tool's ask for input under the same keys
(MCP_REQUEST_STATE_KEYS), from a Secret the chart keeps or one the values name."""

from __future__ import annotations

import base64
from typing import Any

from helm_render import VALUES_DIR, Render, render

TODO = (VALUES_DIR / "todo.yaml",)
TWO = (VALUES_DIR / "time.yaml", *TODO)
KEPT = {"name": "todo-mcp-request-state", "key": "keys"}


def keys_ref(result: Render, fullname: str) -> dict[str, Any]:
    (server,) = result.get("Deployment", fullname)["spec"]["template"]["spec"]["containers"]
    (entry,) = (entry for entry in server["env"] if entry["name"] == "MCP_REQUEST_STATE_KEYS")
    ref: dict[str, Any] = entry["valueFrom"]["secretKeyRef"]
    return ref


def kept_key(result: Render, name: str) -> str:
    secret = result.get("Secret", name)
    assert secret["type"] == "Opaque"
    return base64.b64decode(secret["data"]["keys"]).decode()


def test_each_server_gets_a_random_key_of_its_own_from_a_secret_the_chart_keeps() -> None:
    result = render(TWO)
    assert keys_ref(result, "todo-mcp") == KEPT
    assert keys_ref(result, "time-mcp") == {"name": "time-mcp-request-state", "key": "keys"}
    todo, time = (
        kept_key(result, "todo-mcp-request-state"),
        kept_key(result, "time-mcp-request-state"),
    )
    # 64 characters is twice the runtime's floor of 32 bytes.
    assert len(todo) == len(time) == 64
    assert todo.isalnum()
    assert todo != time
    # Nothing of it in the ConfigMap, which anyone who may read the namespace's config reads.
    assert "MCP_REQUEST_STATE_KEYS" not in result.get("ConfigMap", "todo-mcp")["data"]


def test_a_named_secret_replaces_the_one_the_chart_keeps() -> None:
    result = render(
        TODO,
        set_json=('servers.todo.requestState={"existingSecret":"todo-state","key":"ring"}',),
    )
    assert keys_ref(result, "todo-mcp") == {"name": "todo-state", "key": "ring"}
    assert "todo-mcp-request-state" not in result.names("Secret")


def test_the_gateway_keeps_a_key_of_its_own() -> None:
    # It seals its callers' asks for input over what an upstream sealed, so its replicas
    # must agree as well.
    result = render(TWO, set_json=("gateway.enabled=true", "gateway.server.replicas=2"))
    assert keys_ref(result, "gateway-mcp") == {"name": "gateway-mcp-request-state", "key": "keys"}
    gateway = kept_key(result, "gateway-mcp-request-state")
    assert len(gateway) == 64
    assert gateway != kept_key(result, "todo-mcp-request-state")
