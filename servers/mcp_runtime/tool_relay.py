"""Tools whose calls a server relays to another process, which the fast path may send there
without FastMCP's dispatch (the bridge's stdio server's tools and the gateway's upstreams'
are such)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import mcp_types

if TYPE_CHECKING:
    from fastmcp.server.transforms import Transform
    from fastmcp.tools import Tool


class ToolRelay(Protocol):
    """A FastMCP provider of the server (`mcp.add_provider`, with or without a namespace)
    whose tools are proxies.

    FastMCP lists and serves its tools as any provider's. With the fast path on, a
    `tools/call` that FastMCP's lookup would resolve to one of `relayed_tools` goes to
    `relay` instead when `relays_for` the client's protocol version, and its result is
    answered as FastMCP's proxy answers a proxied tool's (under the proxy's default "proxy"
    identity); the fast path still counts and logs the call, and FastMCP still serves
    everything else.
    """

    @property
    def transforms(self) -> Sequence[Transform]:
        """The provider's own transforms (FastMCP's `Provider.transforms`)."""
        ...

    @property
    def relayed_tools(self) -> Mapping[str, Tool]:
        """The provider's tools by name: a new mapping whenever they change, never the same
        mapping changed."""
        ...

    def relays_for(self, protocol_version: str) -> bool:
        """Whether `relay` carries the calls of a client speaking `protocol_version`; the
        fast path runs the others through the tool's own `run`, as FastMCP would."""
        ...

    async def relay(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Call tool `name` (its name in `relayed_tools`) with `arguments` and the request
        `_meta` to pass on, as the tool's own `run` would, and raise what that `run` raises.

        Returns the result as received: the upstream's `CallToolResult` as JSON, checked
        by the MCP SDK against the protocol version the two ends speak, not parsed further.
        """
        ...


def tool_call_params(
    name: str, arguments: dict[str, Any], meta: dict[str, Any] | None
) -> dict[str, Any]:
    """The params of the `tools/call` FastMCP's proxy sends for `relay(name, arguments, meta)`,
    as the SDK dumps them."""
    if not meta:
        return {"name": name, "arguments": arguments}
    # A client's `_meta` goes through the SDK's model, which reads its snake_case aliases.
    params = mcp_types.CallToolRequestParams(name=name, arguments=arguments, _meta=meta)
    return params.model_dump(by_alias=True, mode="json", exclude_none=True)
