"""What the gateway tests and their fixtures share."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from harness.processes import ServerProcess

UPSTREAM_TOKEN = "upstream-secret-token"

StartGateway = Callable[..., ServerProcess]


def upstreams_env(upstreams: Mapping[str, object]) -> dict[str, str]:
    return {"MCP_GATEWAY_SERVERS": json.dumps(upstreams)}
