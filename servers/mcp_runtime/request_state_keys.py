"""2026-07-28 `requestState` sealed under keys every replica of a server shares.

A tool that asks its caller for input (an `InputRequiredResult`) hands the client a
`requestState`, which the MCP SDK's `RequestStateBoundary` seals, and the client sends it
back with its answers on a new request. FastMCP seals under a key each process makes at
start, so when that request reaches another replica, or the same one after a restart or a
rollout, it is refused as "Invalid or expired requestState": the flow would need sticky
sessions. With MCP_REQUEST_STATE_KEYS every replica seals and unseals under the same keys
(the SDK's AES-256-GCM codec and its key ring: the first key seals, each one unseals).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from fastmcp import FastMCP
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

from mcp_runtime.internals import lowlevel_server, own_request_state_policy

log = structlog.get_logger(__name__)


def seal_request_state_with(mcp: FastMCP, keys: Sequence[str]) -> None:
    """Replace the per-process key of `mcp`'s request-state boundary with `keys`.

    The audience stays the server's name, as FastMCP sets it, so state one server minted
    is refused by another server that shares the keys. A server built with a policy of its
    own (`FastMCP(request_state_security=...)`, a key service's codec, say) keeps it: its
    author chose how the state is sealed, and the keys are left unused with a warning.
    """
    if own_request_state_policy(mcp) is not None:
        log.warning(
            "request_state_keys_unused",
            reason="the server sets its own request_state_security",
            server=mcp.name,
        )
        return
    lowlevel = lowlevel_server(mcp)
    security = RequestStateSecurity(keys=list(keys))
    for index, layer in enumerate(lowlevel.middleware):
        if isinstance(layer, RequestStateBoundary):
            lowlevel.middleware[index] = RequestStateBoundary(
                security, default_audience=lowlevel.name
            )
            return
    raise RuntimeError("FastMCP's low-level server has no request-state boundary to key")
