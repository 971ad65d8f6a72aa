"""One upstream as a FastMCP ProxyProvider: its tools, filtered, failing with a clear error."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import mcp_types
import structlog
from fastmcp.server.context import Context
from fastmcp.server.providers.proxy import ClientFactoryT, ProxyProvider, ProxyTool, _CacheEntry
from fastmcp.telemetry import inject_trace_context
from fastmcp.tools.base import Tool, ToolResult
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import x_mcp_header_map
from mcp_runtime.internals import forwardable_http_headers, request_stamp
from mcp_runtime.tool_relay import tool_call_params
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from mcp_gateway.connections import UpstreamConnections
from mcp_gateway.settings import Upstream
from mcp_gateway.upstream_calls import Answered, UpstreamCalls, UpstreamUnavailable, describe
from mcp_gateway.upstream_posts import Stamp, UpstreamPosts

_log = structlog.get_logger("mcp_gateway.upstream")

# Called with the upstream's name and the tool names it serves, after each listing.
ToolsSeen = Callable[[str, frozenset[str]], None]

# A listing that takes longer serves the tools listed last: one upstream that hangs must not
# hold up every client's tools/list. The question that may follow it (`server/discover`) is
# within the same time.
LISTING_TIMEOUT_SECONDS = 10.0
# After a `server/discover` left unanswered, listings go without asking again for this long:
# each would otherwise wait out what is left of its time for an answer that does not come.
DISCOVER_RETRY_SECONDS = 300.0
# Of how many callers (Authorization values passed on) the last listing is kept; past that,
# all are forgotten, so that a caller sending a new token every time grows nothing.
LISTINGS_KEPT = 256


class UpstreamTool(ProxyTool):
    """FastMCP's ProxyTool, its calls going the upstream's way (`UpstreamCalls`)."""

    _calls: UpstreamCalls

    async def run(self, arguments: dict[str, Any], context: Context | None = None) -> ToolResult:
        return await self._calls.run(lambda: super(UpstreamTool, self).run(arguments, context))


class UpstreamProvider(ProxyProvider):
    """The tools of one upstream that its include/exclude lists allow.

    Each request gets a fresh client from FastMCP's proxy factory, which speaks the
    front request's protocol generation and forwards its Authorization header: a call
    never holds a session across requests, so a stateless upstream needs no stickiness.
    When the upstream stops answering, the tools it listed last to the caller stay listed
    to it, so that a call fails with `upstream 'NAME' is unavailable` rather than `Unknown
    tool`: to it only, as the upstream lists by the Authorization passed on, and may have
    refused another caller's (or listed it less).
    """

    def __init__(
        self,
        name: str,
        upstream: Upstream,
        client_factory: ClientFactoryT,
        connections: UpstreamConnections,
        tools_seen: ToolsSeen,
        answered: Answered,
        calls: UpstreamCalls,
        *,
        relay_every_generation: bool = True,
    ) -> None:
        super().__init__(client_factory)
        self.upstream_name = name
        self._connections = connections
        self._posts = UpstreamPosts(str(upstream.url))
        self._stamp: Stamp | None = None
        # Whether a 2025-11-25 caller's calls may go to the upstream in 2026-07-28 as well
        # (see `relays_for`), and whether the upstream speaks it (None: not asked yet).
        self._relay_every_generation = relay_every_generation
        self._speaks_modern: bool | None = None
        self._discover_after = 0.0  # the event loop's time
        self._upstream = upstream
        self._tools_seen = tools_seen
        self._answered = answered
        self._calls = calls
        # The last listing for each caller, by a digest of the Authorization passed on.
        self._last_tools: dict[bytes | None, Sequence[Tool]] = {}
        self._relayed: Mapping[str, Tool] = MappingProxyType({})

    async def aclose(self) -> None:
        """Close the relayed calls' connections."""
        await self._posts.aclose()

    @property
    def relayed_tools(self) -> Mapping[str, Tool]:
        """The tools of the last listing, by their name at the upstream (`ToolRelay`)."""
        return self._relayed

    def relays_for(self, protocol_version: str) -> bool:
        """A 2026-07-28 call, always. A 2025-11-25 call too, as one 2026-07-28 POST instead
        of a session of its own (handshake, call, DELETE: five times the CPU), when the
        upstream speaks 2026-07-28 and the gateway's front is stateless: then the caller
        can get nothing but the call's result either way (a stateless front has no stream
        to carry the upstream's requests and notifications back), and the result is
        answered in the caller's generation (`RelayedCalls`)."""
        if protocol_version == MODERN_PROTOCOL_VERSIONS[-1]:
            return True
        return self._relay_every_generation and self._speaks_modern is True

    async def relay(
        self, name: str, arguments: dict[str, Any], meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The call `ProxyTool.run` makes to a 2026-07-28 upstream, as one POST of its own
        (`UpstreamPosts`), checked as the SDK's session checks its result."""
        # Only the fast path calls this, and the fast path's modules load only when it runs.
        from mcp_runtime.fast_path.private_api import client_session_result

        version = MODERN_PROTOCOL_VERSIONS[-1]
        params = tool_call_params(name, arguments, inject_trace_context(meta) or None)
        received = await self._calls.run(lambda: self._post("tools/call", params, progress=True))
        return client_session_result("tools/call", version, received)

    async def _discover(self, deadline: float) -> None:
        """Ask the upstream which protocol versions it speaks (`server/discover`, a
        2026-07-28 method: a server without it speaks only the handshake era), with the
        headers of the request that brought the listing, until `deadline` (the event
        loop's time): the listing waits for the answer, and every client's tools/list for
        the listing."""
        version = MODERN_PROTOCOL_VERSIONS[-1]
        try:
            async with asyncio.timeout_at(deadline):
                found = await self._post("server/discover", {})
        except TimeoutError:
            # Not known yet: asked again at a listing after DISCOVER_RETRY_SECONDS.
            self._discover_after = asyncio.get_running_loop().time() + DISCOVER_RETRY_SECONDS
            _log.warning(
                "upstream_discover_failed",
                upstream=self.upstream_name,
                error=f"no answer within the listing's {LISTING_TIMEOUT_SECONDS:g} s",
                retry_in_seconds=DISCOVER_RETRY_SECONDS,
            )
            return
        except MCPError as error:
            # It answered: an unknown method or version says it, anything else (401 to the
            # gateway's own listing) leaves the question open for the next listing.
            if error.error.code in (mcp_types.METHOD_NOT_FOUND, mcp_types.INVALID_REQUEST):
                self._speaks_modern = False
            return
        except Exception:  # unreachable now: asked again at the next listing
            return
        versions = found.get("supportedVersions")
        self._speaks_modern = isinstance(versions, list) and version in versions
        _log.info(
            "upstream_discovered",
            upstream=self.upstream_name,
            supported_versions=versions,
            relays_every_generation=self._speaks_modern,
        )

    async def _post(
        self, method: str, params: dict[str, Any], *, progress: bool = False
    ) -> dict[str, Any]:
        """`method` at the upstream in 2026-07-28, with the current request's headers."""
        stamp = self._stamp or await self._session_stamp(MODERN_PROTOCOL_VERSIONS[-1])
        headers = self._connections.passed(forwardable_http_headers())
        return await self._posts.request(stamp, headers, method, params, progress=progress)

    async def _session_stamp(self, version: str) -> Stamp:
        """The request stamp of the session FastMCP's proxy client would open for a call:
        a 2026-07-28 client connects without a round trip, so this one is opened and closed
        here, once."""
        client = self.client_factory()
        client.mode = version
        async with client:
            self._stamp = request_stamp(client.session)
        return self._stamp

    async def _list_tools(self) -> Sequence[Tool]:
        caller = self._caller()
        if (left := self._calls.open_for()) is not None:
            # Nothing new about the upstream: what it listed last, or its calls' error.
            if not (last := self._last_tools.get(caller)):
                raise UpstreamUnavailable(
                    self.upstream_name, f"its circuit is open for {left:.0f} s more"
                )
            return last
        deadline = asyncio.get_running_loop().time() + LISTING_TIMEOUT_SECONDS
        try:
            async with asyncio.timeout_at(deadline):
                client = await self._get_client()
                async with client:
                    listed = await client.list_tools()
        except TimeoutError:
            return self._stale(caller, f"no listing within {LISTING_TIMEOUT_SECONDS:g} s")
        except MCPError as error:
            if error.error.code == mcp_types.CONNECTION_CLOSED:
                return self._stale(caller, describe(error))
            if error.error.code != mcp_types.METHOD_NOT_FOUND:
                # It answered, but not to us: e.g. 401 to the gateway's own start-up listing,
                # which carries no caller's token. It is up; its tools stay unlisted for now.
                self._answered(self.upstream_name, True, None)
                raise
            listed = []
        except Exception as error:
            return self._stale(caller, describe(error))
        tools = tuple(self._tool(tool) for tool in listed if self._upstream.serves(tool.name))
        if len(self._last_tools) >= LISTINGS_KEPT and caller not in self._last_tools:
            self._last_tools.clear()
        self._last_tools[caller] = tools
        # A tool with `x-mcp-header` arguments needs headers a relayed call cannot know:
        # FastMCP's proxy seeds each client of its own with them.
        relayed = {tool.name: tool for tool in tools if not x_mcp_header_map(tool.parameters)}
        if relayed != self._relayed:
            self._relayed = MappingProxyType(relayed)
        # The base class looks single tools up in this cache: only the served ones are found.
        self._tools_cache = _CacheEntry(tools, time.monotonic())
        self._tools_seen(self.upstream_name, frozenset(tool.name for tool in tools))
        self._answered(self.upstream_name, True, None)
        if (
            self._relay_every_generation
            and self._speaks_modern is None
            and asyncio.get_running_loop().time() >= self._discover_after
        ):
            await self._discover(deadline)
        return tools

    def _tool(self, listed: mcp_types.Tool) -> Tool:
        tool = UpstreamTool.from_mcp_tool(self.client_factory, listed, identity=self.identity)
        tool._calls = self._calls
        return tool

    def _caller(self) -> bytes | None:
        """Who the upstream sees listing: a digest of the Authorization passed on to it, the
        same for callers whose Authorization stays at the gateway; None without one."""
        passed = self._connections.passed(forwardable_http_headers())
        authorization = next((v for k, v in passed.items() if k.lower() == "authorization"), None)
        return None if authorization is None else hashlib.sha256(authorization.encode()).digest()

    def _stale(self, caller: bytes | None, reason: str) -> Sequence[Tool]:
        self._answered(self.upstream_name, False, reason)
        # It may come back as another release: asked again once it lists its tools.
        self._speaks_modern = None
        self._discover_after = 0.0
        if not (last := self._last_tools.get(caller)):
            raise UpstreamUnavailable(self.upstream_name, reason)
        _log.warning(
            "upstream_list_failed",
            upstream=self.upstream_name,
            error=reason,
            serving_last_known=len(last),
        )
        return last
