"""Which upstreams answer: the mcp_gateway_upstream_up gauge and the gateway's /ready."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx2
import structlog
from prometheus_client import CollectorRegistry, Gauge

from mcp_gateway.connections import UpstreamConnections
from mcp_gateway.settings import Upstream

# Inside the runtime's 2 s budget for one readiness check.
PROBE_TIMEOUT_SECONDS = 1.5

_log = structlog.get_logger("mcp_gateway.health")


class AllUpstreamsDown(Exception):
    """No upstream answers: the gateway has nothing to serve."""


class UpstreamHealth:
    """Up/down per upstream, from /ready's probes and from the outcome of every call."""

    def __init__(
        self, upstreams: Mapping[str, Upstream], connections: Mapping[str, UpstreamConnections]
    ) -> None:
        self._upstreams = upstreams
        self._connections = connections
        self.registry = CollectorRegistry(auto_describe=True)
        self._up = Gauge(
            "mcp_gateway_upstream_up",
            "1 while the upstream MCP server answers, 0 while it cannot be reached.",
            ["server"],
            registry=self.registry,
        )
        self._down: dict[str, str] = {}
        for name in upstreams:
            self._up.labels(server=name).set(0)

    @property
    def down(self) -> Mapping[str, str]:
        return dict(self._down)

    def record(self, name: str, up: bool, reason: str | None) -> None:
        was_down = name in self._down
        self._up.labels(server=name).set(1 if up else 0)
        if up:
            self._down.pop(name, None)
            if was_down:
                _log.info("upstream_up", upstream=name)
            return
        self._down[name] = reason or "unreachable"
        if not was_down:
            _log.warning("upstream_down", upstream=name, reason=self._down[name])

    async def upstreams_answer(self) -> str | None:
        """The readiness check: raise when no upstream answers; name the ones that do not.

        Any HTTP answer counts, 401 included: the gateway has no credentials of its own to
        ask with, and a server refusing an anonymous probe is still up.
        """
        results = await asyncio.gather(
            *(self._probe(name, up.url) for name, up in self._upstreams.items())
        )
        for name, reason in zip(self._upstreams, results, strict=True):
            self.record(name, reason is None, reason)
        if self._down and len(self._down) == len(self._upstreams):
            raise AllUpstreamsDown(f"no upstream answers: {self._describe_down()}")
        return f"upstreams down: {self._describe_down()}" if self._down else None

    def _describe_down(self) -> str:
        return ", ".join(f"{name} ({reason})" for name, reason in sorted(self._down.items()))

    async def _probe(self, name: str, url: object) -> str | None:
        # Over the calls' pool: an idle connection if there is one, and no TLS context of its own.
        http = self._connections[name].client(timeout=httpx2.Timeout(PROBE_TIMEOUT_SECONDS))
        try:
            async with http:
                response = await http.get(str(url), headers={"Accept": "application/json"})
        except httpx2.HTTPError as error:
            return f"{type(error).__name__}: {error}".rstrip(": ")
        if response.status_code >= 500:
            return f"HTTP {response.status_code}"
        return None
