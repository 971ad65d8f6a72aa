"""The SDK's `Connection` for a single-exchange request, built once per envelope.

`Connection.from_envelope` validates the client's info and capabilities from the request's
`_meta` into the SDK's models, builds the `initialize` params from them, makes an anyio event
and sets it: 6-8 µs of a call that spends about 200 in the app, for the same envelope on
every request of a client (a handshake-era request has none at all). `EnvelopeConnections`
builds a connection once per protocol version and envelope, and gives each request a copy of
it with the two things a connection owns for itself, its `state` and its `exit_stack`, new.
The models and the already-set event are shared: nothing changes them after construction.
"""

from __future__ import annotations

import copy
from typing import Any

from mcp.server.connection import Connection

from mcp_runtime.fast_path import private_api as private
from mcp_runtime.fast_path.kept_answers import KeptAnswers

# How many envelopes' connections are kept (one per client program and version, in practice).
_KEPT = 32


class EnvelopeConnections:
    """`Connection.from_envelope`, built once per (version, client info, capabilities)."""

    def __init__(self) -> None:
        self._built: KeptAnswers[tuple[str, str, str], Connection] = KeptAnswers(_KEPT)

    def connection(self, version: str, client_info: Any, capabilities: Any) -> Connection:
        """What `Connection.from_envelope(version, client_info, capabilities)` returns."""
        # By repr, not equality: 1 and True are equal in Python, not to the SDK's models (the
        # values are parsed JSON, whose repr tells every two apart).
        key = (version, repr(client_info), repr(capabilities))
        built = self._built.get(key)
        if built is None:
            built = self._built.keep(
                key,
                Connection.from_envelope(
                    version, copy.deepcopy(client_info), copy.deepcopy(capabilities)
                ),
            )
        return private.fresh_connection(built)
