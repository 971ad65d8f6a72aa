"""Prometheus metrics for tool calls, kept in a registry owned by one app.

With several worker processes (MCP_WORKERS, workers.py) prometheus-client runs in its
multiprocess mode: every counter, histogram and gauge made after it is switched on keeps
its values in a file per process under PROMETHEUS_MULTIPROC_DIR, and /metrics sums the
files of all workers, whichever worker answers the scrape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# The `*_created` series (a counter's or histogram's creation time) double what a scrape
# carries and no query of ours uses them; resets show in the counters themselves.
disable_created_metrics()

UNKNOWN_TOOL = "unknown"
OUTCOMES = ("ok", "error", "cancelled")

# Tool calls range from sub-millisecond lookups to multi-second queries.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class WorkerProcessCollector(Collector):
    """process_* of the worker answering the scrape, but process_start_time_seconds of
    `supervisor`, the process that forked the workers: restarts show as changes of it, and
    each worker's own start (its fork) changed it whenever another worker answered."""

    def __init__(self, supervisor: int) -> None:
        self._worker = ProcessCollector(registry=None)
        self._supervisor = ProcessCollector(pid=lambda: supervisor, registry=None)

    def collect(self) -> Iterator[Metric]:
        for family in self._worker.collect():
            if family.name == "process_start_time_seconds":
                started = (f for f in self._supervisor.collect() if f.name == family.name)
                family = next(started, family)
            yield family


class ToolMetrics:
    """Counters, latency histogram and in-flight gauge for tool calls.

    The `tool` label only ever takes a registered tool name or "unknown", so a client
    calling made-up tool names cannot grow the number of series.
    """

    def __init__(self, server: str, version: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # The series prometheus-client's default registry has: process_* (memory, CPU, open
        # files, start time), python_gc_* and python_info, which dashboards and alerts expect.
        # With workers, process_* and python_gc_* are those of the worker that answers, but
        # for the start time: the supervisor's, made here before the fork.
        if self.multiprocess:
            self.registry.register(WorkerProcessCollector(supervisor=os.getpid()))
        else:
            ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        # In multiprocess mode the metrics live in files, which this collector sums;
        # registering them as well would serve each twice.
        own: CollectorRegistry | None = self.registry
        if self.multiprocess:
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(self.registry)
            own = None
        self.calls = Counter(
            "mcp_tool_calls",
            "Tool calls by tool and outcome.",
            ("tool", "outcome"),
            registry=own,
        )
        self.duration = Histogram(
            "mcp_tool_call_duration_seconds",
            "Tool call latency in seconds.",
            ("tool",),
            buckets=_LATENCY_BUCKETS,
            registry=own,
        )
        self.in_flight = Gauge(
            "mcp_tool_calls_in_flight",
            "Tool calls currently running.",
            registry=own,
            multiprocess_mode="livesum",
        )
        self._own_registry = own
        build_info = Gauge(
            "mcp_build_info",
            "Server name and version; always 1.",
            ("version", "server"),
            registry=own,
            multiprocess_mode="max",
        )
        self._build_info = build_info.labels(version=version, server=server)
        self._build_info.set(1)
        self._known_tools: frozenset[str] = frozenset()
        # Labelled series by label values: looking them up per call costs more than the update.
        self._call_series: dict[tuple[str, str], Counter] = {}
        self._duration_series: dict[str, Histogram] = {}

    def forked(self) -> None:
        """In a worker forked after the metrics were made: set again what is set once, as a
        forked process keeps its values in files of its own, which start at 0."""
        self._build_info.set(1)

    def register_tools(self, names: Iterable[str]) -> None:
        """Set the tool names that may appear as labels and create their series at zero."""
        self._known_tools = frozenset(names)
        for name in (*self._known_tools, UNKNOWN_TOOL):
            self._duration_series[name] = self.duration.labels(tool=name)
            for outcome in OUTCOMES:
                self._call_series[name, outcome] = self.calls.labels(tool=name, outcome=outcome)

    def counter(self, name: str, documentation: str, labels: Sequence[str]) -> Counter:
        """A counter served on /metrics next to the tool metrics (summed over workers)."""
        return Counter(name, documentation, labels, registry=self._own_registry)

    def histogram(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> Histogram:
        """A histogram served on /metrics next to the tool metrics (summed over workers)."""
        return Histogram(name, documentation, labels, buckets=buckets, registry=self._own_registry)

    def add_collector(self, collector: Collector) -> None:
        """Serve a server's own collector (or registry) on /metrics as well."""
        # A registry's metrics are in the multiprocess files already, summed over workers.
        if not (self.multiprocess and isinstance(collector, CollectorRegistry)):
            self.registry.register(collector)

    @property
    def known_tools(self) -> frozenset[str]:
        return self._known_tools

    def tool_label(self, name: str) -> str:
        return name if name in self._known_tools else UNKNOWN_TOOL

    def observe(self, tool: str, outcome: str, seconds: float) -> None:
        calls = self._call_series.get((tool, outcome))
        if calls is None:
            calls = self._call_series[tool, outcome] = self.calls.labels(tool=tool, outcome=outcome)
        duration = self._duration_series.get(tool)
        if duration is None:
            duration = self._duration_series[tool] = self.duration.labels(tool=tool)
        calls.inc()
        duration.observe(seconds)
