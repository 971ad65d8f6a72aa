"""The gateway's settings: the runtime's, plus the upstream servers it composes."""

from __future__ import annotations

import json
import re
from typing import Annotated, ClassVar

from mcp_runtime.settings import RuntimeSettings
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import NoDecode

ENV = "MCP_GATEWAY_SERVERS"
EXAMPLE = '{"todo": {"url": "http://todo-mcp:8001/mcp"}}'

# FastMCP joins a namespace and a tool name with "_". A name without "_" keeps that join
# unambiguous: everything before a tool's first "_" is the upstream it belongs to.
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class CircuitBreaker(BaseModel):
    """When calls to an upstream stop reaching it, fail the next ones at once for a while."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Failed calls in a row (unreachable, or no answer within the deadline) that open the
    # circuit; 0 never opens it.
    failures: int = Field(default=5, ge=0, le=1000)
    # Seconds it stays open; then calls are let through again, and the first to fail opens it
    # for as long again, the first to succeed closes it.
    open_seconds: float = Field(default=30.0, gt=0, le=3600)


class Upstream(BaseModel):
    """One upstream MCP server: where it answers, which of its tools to serve, and how long
    and how often a call to it is tried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: AnyHttpUrl
    # Empty serves every tool the upstream lists; names are the upstream's own (no prefix).
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # Seconds a tool call may take at the upstream, its retries included.
    timeout_seconds: float = Field(default=60.0, gt=0, le=86400)
    # More attempts at a call whose connection could not be made: its request never left, so
    # trying again is safe for any tool. Each attempt is a new connection, which the Service
    # may send to another replica than the one that just went away; three retries take
    # about a second.
    connect_retries: int = Field(default=3, ge=0, le=10)
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    # Calls in flight to the upstream at most, per gateway replica; one more fails at once as
    # busy, so that a burst does not pile onto a slow server. 0: no limit.
    max_concurrent_calls: int = Field(default=0, ge=0, le=100000)

    def serves(self, tool: str) -> bool:
        if self.include and tool not in self.include:
            return False
        return tool not in self.exclude


Upstreams = Annotated[dict[str, Upstream], NoDecode]


class GatewaySettings(RuntimeSettings):
    """Read from MCP_GATEWAY_* (and the runtime's own variables)."""

    # Errors name the key at fault instead of repeating a JSON document that may be long.
    quiet_fields: ClassVar[frozenset[str]] = RuntimeSettings.quiet_fields | {"mcp_gateway_servers"}
    one_process_only: ClassVar[str | None] = (
        "mcp-gateway serves from one process (each upstream's circuit breaker and last"
        " listing live in it); set MCP_WORKERS=1 and add replicas instead"
    )

    # Required: a gateway without upstreams has nothing to serve.
    mcp_gateway_servers: Upstreams

    @field_validator("mcp_gateway_servers", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if isinstance(value, str):
            value = _load_json(value)
        if not isinstance(value, dict) or not value:
            raise ValueError(f"must be a non-empty JSON object of upstream servers, e.g. {EXAMPLE}")
        return {name: _upstream(name, entry) for name, entry in value.items()}


def _load_json(text: str) -> object:
    def refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        seen: dict[str, object] = {}
        for key, item in pairs:
            if key in seen:
                # json.loads would keep the last silently, hiding one of two upstreams.
                raise ValueError(f"{key}: given twice; upstream names must be unique")
            seen[key] = item
        return seen

    try:
        return json.loads(text, object_pairs_hook=refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc}); expected e.g. {EXAMPLE}") from None


def _upstream(name: str, entry: object) -> Upstream:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{name}: an upstream name must be lowercase letters, digits and '-' (no '_',"
            " which separates it from the tool names), at most 63 characters"
        )
    try:
        upstream = Upstream.model_validate(entry)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join([name, *map(str, error['loc'])])}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ValueError(problems) from None
    if both := sorted(set(upstream.include) & set(upstream.exclude)):
        raise ValueError(f"{name}: include and exclude both name {', '.join(both)}")
    return upstream
