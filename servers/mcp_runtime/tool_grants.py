"""Which tools a caller may list and call, from the grants its access token carries.

MCP_TOOL_GRANTS maps a grant to the tools it opens. A grant is a value of the token's
MCP_TOOL_GRANTS_CLAIM: by default `scope` (each OAuth scope), or a claim such as `groups`
that an identity provider fills from its directory. A tool entry is a tool's name,
`@read-only` (every tool annotated `readOnlyHint`, so read access is one grant however
many read tools a server has) or `*` (every tool). A caller sees in `tools/list`, and may
call, exactly the tools one of its grants opens; calling another is refused with a message
naming the grants that would open it.

Built on FastMCP's AuthMiddleware, which filters lists and guards calls with an auth check;
the check here also logs each call's decision (who, which tool, allowed or not) and counts
every decision in `mcp_tool_authorizations_total`. The fast path runs the same check
(`check_call`) for the calls it serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import structlog
from fastmcp.exceptions import AuthorizationError
from fastmcp.server.auth import AccessToken
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.middleware import AuthMiddleware, CallNext, MiddlewareContext
from fastmcp.tools.base import Tool, ToolResult
from fastmcp.utilities.authorization import AuthContext
from mcp_types import CallToolRequestParams, ListToolsRequest

from mcp_runtime.metrics import ToolMetrics
from mcp_runtime.tool_catalog import listing_for_the_server

READ_ONLY = "@read-only"
EVERY_TOOL = "*"

# Whether the decision being made is for a listing or a call: the auth check is the same.
_action: ContextVar[str] = ContextVar("mcp_runtime_tool_grant_action", default="call")


class ToolGrants:
    """The grant -> tools mapping, and what a token's grants open."""

    def __init__(self, grants: Mapping[str, Sequence[str]], claim: str) -> None:
        self._grants = {grant: frozenset(tools) for grant, tools in grants.items()}
        self.claim = claim

    @property
    def names(self) -> list[str]:
        return list(self._grants)

    def held_by(self, token: AccessToken | None) -> list[str]:
        """The grants `token` carries, in MCP_TOOL_GRANTS' order."""
        if token is None:
            return []
        if self.claim == "scope":
            values: Any = token.scopes
        else:
            values = token.claims.get(self.claim)
            # A claim holding one value as a string means that value (or, like `scope`,
            # several space-separated ones), not its characters.
            if isinstance(values, str):
                values = values.split()
            elif not isinstance(values, list):
                # Absent, null (a user in no group), a number, or an object, whose keys
                # are not values the token holds: no grant.
                values = []
        held = {value for value in values if isinstance(value, str)}
        return [grant for grant in self._grants if grant in held]

    def named_tools(self) -> set[str]:
        """Every tool name the grants list, without `@read-only` and `*`."""
        return {t for tools in self._grants.values() for t in tools} - {READ_ONLY, EVERY_TOOL}

    def opening(self, tool: Tool) -> list[str]:
        """The grants that open `tool`."""
        return [grant for grant, tools in self._grants.items() if self._opens(tools, tool)]

    @staticmethod
    def _opens(tools: frozenset[str], tool: Tool) -> bool:
        if EVERY_TOOL in tools or tool.name in tools:
            return True
        return READ_ONLY in tools and bool(tool.annotations and tool.annotations.readOnlyHint)


class ToolAuthorization(AuthMiddleware):
    """FastMCP's AuthMiddleware with `ToolGrants` as its check, logged and counted."""

    def __init__(self, grants: ToolGrants, metrics: ToolMetrics) -> None:
        super().__init__(auth=self._allows)
        self.grants = grants
        self._metrics = metrics
        self._decisions = metrics.counter(
            "mcp_tool_authorizations",
            "Tool authorization decisions by tool, action (list or call) and decision.",
            ("tool", "action", "decision"),
        )
        self._log = structlog.get_logger("mcp_runtime.authorization")

    def register_tools(self, tool_names: Sequence[str]) -> None:
        """Create the decision series of the server's tools at zero, and warn of tool names
        the grants list that the server does not have: a misspelt one opens nothing."""
        for tool in tool_names:
            for action in ("list", "call"):
                for decision in ("allowed", "denied"):
                    self._decisions.labels(tool=tool, action=action, decision=decision)
        unknown = sorted(self.grants.named_tools() - set(tool_names))
        if unknown:
            # A bridged server's tools may still come: a warning, not a refusal to start.
            self._log.warning(
                "tool_grants_name_unknown_tools", tools=unknown, setting="MCP_TOOL_GRANTS"
            )

    async def on_list_tools(
        self,
        context: MiddlewareContext[ListToolsRequest],
        call_next: CallNext[ListToolsRequest, Sequence[Tool]],
    ) -> Sequence[Tool]:
        if listing_for_the_server.get():
            return await call_next(context)
        action = _action.set("list")
        try:
            return await super().on_list_tools(context, call_next)
        finally:
            _action.reset(action)

    async def on_call_tool(
        self,
        context: MiddlewareContext[CallToolRequestParams],
        call_next: CallNext[CallToolRequestParams, ToolResult],
    ) -> ToolResult:
        action = _action.set("call")
        try:
            return await super().on_call_tool(context, call_next)
        finally:
            _action.reset(action)

    async def check_call(self, tool: Tool) -> None:
        """Raise AuthorizationError unless the current caller may call `tool`: the check
        FastMCP runs for a call, for callers that bypass its middleware (the fast path)."""
        self._allows(AuthContext(token=get_access_token(), component=tool))

    def decide(self, tool: Tool, token: AccessToken | None) -> tuple[bool, list[str]]:
        """Whether `token` may use `tool`, and the grants that open `tool`."""
        held = self.grants.held_by(token)
        opening = self.grants.opening(tool)
        return any(grant in opening for grant in held), opening

    def record(self, tool: Tool, token: AccessToken | None, action: str, allowed: bool) -> None:
        """Count one decision, and log it when it is about a call."""
        label = self._metrics.tool_label(tool.name)
        self._decisions.labels(
            tool=label, action=action, decision="allowed" if allowed else "denied"
        ).inc()
        if action == "call":
            self._log.info(
                "tool_authorization",
                tool=label,
                allowed=allowed,
                subject=None if token is None else token.claims.get("sub"),
                client_id=None if token is None else token.client_id,
                grants=self.grants.held_by(token),
            )

    def _allows(self, ctx: AuthContext) -> bool:
        tool = ctx.component
        if not isinstance(tool, Tool):
            # Resources and prompts are not covered by tool grants.
            return True
        allowed, opening = self.decide(tool, ctx.token)
        action = _action.get()
        self.record(tool, ctx.token, action, allowed)
        if allowed:
            return True
        if action == "list":
            return False
        raise AuthorizationError(
            f"Authorization failed for tool {tool.name!r}: it needs {self.needs(opening)}"
        )

    def needs(self, opening: Sequence[str]) -> str:
        """What a caller needs to use a tool that the grants `opening` open."""
        needed = ", ".join(opening) or "none (no grant lists it)"
        return f"one of the grants {needed} in the token's {self.grants.claim!r} claim"
