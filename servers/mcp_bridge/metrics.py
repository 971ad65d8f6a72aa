"""The bridge's own series on /metrics, next to the runtime's per-tool ones."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.child_up = Gauge(
            "mcp_bridge_child_up",
            "1 while the stdio server is running and has answered initialize and tools/list.",
            registry=self.registry,
        )
        self.child_crashes = Counter(
            "mcp_bridge_child_crashes",
            "Times the stdio server exited, failed to start or did not answer in time.",
            registry=self.registry,
        )
