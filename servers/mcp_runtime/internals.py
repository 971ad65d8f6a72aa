"""The private FastMCP and MCP SDK names the runtime itself (not its fast path) relies on.

Each is a hook FastMCP does not expose: the low-level server, the request-state policy a
server was built with, the session manager's open sessions, and the pieces of FastMCP's JWT
verifier the runtime needs to say why it refused a token (its key import and key lookup, its
`nbf` clock skew), and the pieces of FastMCP's proxy and the SDK's client the gateway needs to
send a call as the proxy's client sends it (the headers it passes on, the session's request
stamp), and the docstring parser FastMCP's tool and prompt modules imported
(`mcp_runtime.docstrings`). Kept here, in one place, so a new release is checked against one
module (`tests/runtime/test_runtime_private_api.py`); the fast path's own are in
`mcp_runtime.fast_path.private_api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastmcp import FastMCP
    from fastmcp.server.auth.providers.jwt import JWTVerifier
    from fastmcp.server.low_level import LowLevelServer
    from mcp.client.session import ClientSession
    from mcp.server.request_state import RequestStateSecurity
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

# FastMCP's modules that read tool and prompt docstrings, each through its own import of
# its parser: the names `mcp_runtime.docstrings` replaces.
DOCSTRING_READERS: tuple[tuple[str, str], ...] = (
    ("fastmcp.tools.function_parsing", "parse_docstring"),
    ("fastmcp.prompts.function_prompt", "parse_docstring"),
)

PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("fastmcp.server.auth.providers.jwt", "_import_key_for_algorithm"),
    ("fastmcp.server.auth.providers.jwt", "_NBF_CLOCK_SKEW_SECONDS"),
    ("fastmcp.client.dependencies", "_get_forwardable_http_headers"),
    *DOCSTRING_READERS,
)

PRIVATE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("FastMCP", "_mcp_server"),
    ("FastMCP", "_request_state_security"),
    ("StreamableHTTPSessionManager", "_server_instances"),
    ("JWTVerifier", "_get_verification_key"),
    ("ClientSession", "_stamp"),
)


def lowlevel_server(mcp: FastMCP) -> LowLevelServer:
    """The MCP SDK server FastMCP dispatches to; FastMCP's only handle on it is private."""
    return mcp._mcp_server


def own_request_state_policy(mcp: FastMCP) -> RequestStateSecurity | None:
    """The `request_state_security` the server was built with, None for FastMCP's default."""
    return mcp._request_state_security


def open_sessions(manager: StreamableHTTPSessionManager) -> int:
    """How many stateful sessions the SDK's session manager holds open."""
    return len(manager._server_instances)


def import_jwt_key(value: str, algorithm: str) -> Any:
    """The key import FastMCP's JWTVerifier does for every token; raises as it does.

    Imported on call: only servers with JWT auth load the JOSE and crypto stack.
    """
    from fastmcp.server.auth.providers.jwt import _import_key_for_algorithm

    return _import_key_for_algorithm(value, algorithm)


def jwt_nbf_skew_seconds() -> float:
    """How far ahead FastMCP's JWTVerifier lets a token's `nbf` be before it refuses it."""
    from fastmcp.server.auth.providers.jwt import _NBF_CLOCK_SKEW_SECONDS

    return float(_NBF_CLOCK_SKEW_SECONDS)


async def jwt_verification_key(verifier: JWTVerifier, token: str) -> Any:
    """The imported key `verifier` checks `token`'s signature with (its public key, or the
    JWKS key for the token's `kid`); raises as the verifier's own lookup and import do."""
    return import_jwt_key(await verifier._get_verification_key(token), verifier.algorithm)


# FastMCP's proxy and the SDK's client, for the gateway's relayed calls
# (mcp_gateway.upstream_posts); imported on call: only the gateway loads FastMCP's client.


def forwardable_http_headers() -> dict[str, str]:
    """The current request's headers that FastMCP's proxy passes on to an upstream."""
    from fastmcp.client.dependencies import _get_forwardable_http_headers

    return _get_forwardable_http_headers()


def request_stamp(session: ClientSession) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """What `session` does to each request it sends: puts its protocol version's `_meta`
    envelope (client info, capabilities, log level) in the params and its headers in the
    options (`stamp(data, options)`)."""
    stamp: Callable[[dict[str, Any], dict[str, Any]], None] = session._stamp
    return stamp
