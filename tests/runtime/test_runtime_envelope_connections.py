"""A request's connection built from its envelope once per envelope is what
`Connection.from_envelope` builds, with state and teardown of its own."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.connection import Connection
from mcp_runtime.fast_path.envelope_connections import EnvelopeConnections

INFO = {"name": "client", "version": "1.0"}
CAPABILITIES = {"roots": {"listChanged": True}, "sampling": {}}
ENVELOPES = {
    "modern": ("2026-07-28", INFO, CAPABILITIES),
    "no client info": ("2026-07-28", None, CAPABILITIES),
    "mis-shaped info": ("2026-07-28", {"name": 1}, CAPABILITIES),
    "handshake era": ("2025-11-25", None, None),
}


def observable(connection: Connection) -> dict[str, Any]:
    """Everything a handler can read of a connection but its own state and teardown."""
    return {
        "protocol_version": connection.protocol_version,
        "session_id": connection.session_id,
        "client_params": connection.client_params,
        "client_capabilities": connection.client_capabilities,
        "initialized": connection.initialized.is_set(),
        "outbound": connection.outbound,
        "attributes": sorted(vars(connection)),
    }


@pytest.mark.parametrize("envelope", list(ENVELOPES))
async def test_a_connection_is_what_from_envelope_builds(envelope: str) -> None:
    connections = EnvelopeConnections()
    expected = observable(Connection.from_envelope(*ENVELOPES[envelope]))
    first = connections.connection(*ENVELOPES[envelope])
    second = connections.connection(*ENVELOPES[envelope])
    assert observable(first) == observable(second) == expected
    assert first.state == {} and first.state is not second.state
    assert first.exit_stack is not second.exit_stack


async def test_envelopes_that_differ_get_connections_of_their_own() -> None:
    connections = EnvelopeConnections()
    info = dict(INFO)
    named = connections.connection("2026-07-28", info, CAPABILITIES)
    info["name"] = "renamed"  # the request's dict, changed after: the kept one is a copy
    renamed = connections.connection("2026-07-28", info, CAPABILITIES)
    assert named.client_params is not None and renamed.client_params is not None
    assert (named.client_params.client_info.name, renamed.client_params.client_info.name) == (
        "client",
        "renamed",
    )
    assert connections.connection("2026-07-28", INFO, CAPABILITIES).client_params == (
        named.client_params
    )
