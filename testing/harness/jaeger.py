"""Jaeger's all-in-one as the trace backend of the tracing tests: a real process receiving OTLP
on two loopback ports (gRPC, HTTP), keeping traces in memory, and answering its query API.

`Jaeger(workdir)` is a context manager: it starts `jaeger-all-in-one` with every port it
would open leased from the harness (none of its defaults, which a parallel run would share),
waits until the collector and the query API answer, and kills and reaps the process on
exit, also when the start fails. `otel_env(service)` is what a server needs to send it
traces; `wait_for_trace(trace_id, until)` polls the query API (`GET /api/traces/{id}`)
until the trace satisfies `until`, since spans reach it in batches. `JaegerQuery(url)` is that
query API alone, for a Jaeger running elsewhere (the test cluster's, `scripts/cluster.sh
tracing`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from harness.locks import REPO, locked
from harness.processes import (
    LOOPBACK,
    POLL_SECONDS,
    START_TIMEOUT_SECONDS,
    ServerNotAnswering,
    ServerProcess,
    free_port,
)

JAEGER_BIN = REPO / ".tools" / "bin" / "jaeger-all-in-one"
INSTALL_TOOLS = REPO / "scripts" / "install-tools.sh"
HTTP_TIMEOUT_SECONDS = 10.0
# How long a server's spans may take to show: its batch processor's delay (otel_env sets
# 200 ms) plus Jaeger's own queue, with room for a busy 2-core machine.
TRACE_TIMEOUT_SECONDS = 30.0


def jaeger_binary() -> Path:
    """.tools/bin/jaeger-all-in-one, built by scripts/install-tools.sh first if missing
    (minutes, once)."""
    if not JAEGER_BIN.exists():
        # One builder at a time (pytest-xdist workers): the others then find the binary.
        with locked("install-tools"):
            if not JAEGER_BIN.exists():
                subprocess.run(["bash", str(INSTALL_TOOLS), "jaeger"], check=True)
    return JAEGER_BIN


@dataclass(frozen=True)
class Span:
    """One span as Jaeger's query API returns it, with its service and tags flattened."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    kind: str | None
    tags: dict[str, Any]
    # The resource attributes of the process that sent it (Jaeger's process tags).
    resource: dict[str, Any]

    @classmethod
    def from_api(cls, span: dict[str, Any], processes: dict[str, Any]) -> Span:
        parents = [
            ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"
        ]
        tags = {tag["key"]: tag["value"] for tag in span.get("tags", [])}
        process = processes[span["processID"]]
        return cls(
            trace_id=span["traceID"],
            span_id=span["spanID"],
            parent_id=parents[0] if parents else None,
            name=span["operationName"],
            service=process["serviceName"],
            kind=tags.get("span.kind"),
            tags=tags,
            resource={tag["key"]: tag["value"] for tag in process.get("tags", [])},
        )


@dataclass(frozen=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]

    def named(self, name: str, service: str | None = None) -> list[Span]:
        return [
            span
            for span in self.spans
            if span.name == name and (service is None or span.service == service)
        ]

    def ancestors(self, span: Span) -> Iterator[Span]:
        """`span`'s parent, its parent's parent, ... as far as they are in this trace."""
        by_id = {each.span_id: each for each in self.spans}
        parent = by_id.get(span.parent_id or "")
        while parent is not None:
            yield parent
            parent = by_id.get(parent.parent_id or "")

    def roots(self) -> list[Span]:
        """Spans whose parent is not in this trace (the caller's span, for a caller that
        does not export its own)."""
        ids = {span.span_id for span in self.spans}
        return [span for span in self.spans if span.parent_id not in ids]


class JaegerQuery:
    """Jaeger's query API at `url`: its services and traces."""

    def __init__(self, url: str) -> None:
        self._query = httpx.Client(base_url=url, timeout=HTTP_TIMEOUT_SECONDS)

    def close(self) -> None:
        self._query.close()

    def services(self) -> list[str]:
        return list(_json(self._query.get("/api/services")).get("data") or [])

    def trace(self, trace_id: str) -> Trace | None:
        """The trace as Jaeger has it now, or None while it has no span of it."""
        response = self._query.get(f"/api/traces/{trace_id}")
        if response.status_code == 404:
            return None
        body = _json(response)
        traces = body.get("data") or []
        if not traces:
            return None
        (found,) = traces
        processes = found["processes"]
        return Trace(
            found["traceID"], tuple(Span.from_api(span, processes) for span in found["spans"])
        )

    def wait_for_trace(
        self,
        trace_id: str,
        until: Callable[[Trace], bool],
        timeout: float = TRACE_TIMEOUT_SECONDS,
    ) -> Trace:
        """The trace once `until` holds for it; AssertionError with what arrived otherwise."""
        deadline = time.monotonic() + timeout
        found: Trace | None = None
        while time.monotonic() < deadline:
            found = self.trace(trace_id)
            if found is not None and until(found):
                return found
            time.sleep(POLL_SECONDS * 10)
        spans = [] if found is None else [(s.service, s.name) for s in found.spans]
        raise AssertionError(f"trace {trace_id} not complete within {timeout} s; spans: {spans}")


class Jaeger:
    """One all-in-one process; see the module's docstring."""

    def __init__(self, workdir: Path, *, binary: Path | None = None) -> None:
        self.workdir = workdir
        self.binary = binary or jaeger_binary()
        self.otlp_grpc_port = free_port()
        self.otlp_http_port = free_port()
        self.query_port = free_port()
        self.admin_port = free_port()
        # Listeners it opens besides: the query's gRPC API and the collector's own protocols.
        self._other_ports = {
            "query.grpc-server": free_port(),
            "collector.grpc-server": free_port(),
            "collector.http-server": free_port(),
        }
        self._server: ServerProcess | None = None
        self._query: JaegerQuery | None = None

    @property
    def otlp_grpc_endpoint(self) -> str:
        """OTEL_EXPORTER_OTLP_ENDPOINT for grpc."""
        return f"http://{LOOPBACK}:{self.otlp_grpc_port}"

    @property
    def otlp_http_endpoint(self) -> str:
        """OTEL_EXPORTER_OTLP_ENDPOINT for http/protobuf (the exporter appends /v1/traces)."""
        return f"http://{LOOPBACK}:{self.otlp_http_port}"

    @property
    def query_url(self) -> str:
        return f"http://{LOOPBACK}:{self.query_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"jaeger-{self.query_port}.log"

    def otel_env(self, service: str) -> dict[str, str]:
        """The OTEL_* variables that make a server export its traces here as `service`."""
        return {
            # The exporter the tracing extra installs; an http:// endpoint means no TLS.
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_grpc_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_SERVICE_NAME": service,
            # The batch processor's default is 5 s; tests wait for every span.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }

    def argv(self) -> list[str]:
        def at(port: int) -> str:
            return f"{LOOPBACK}:{port}"

        return [
            str(self.binary),
            f"--collector.otlp.grpc.host-port={at(self.otlp_grpc_port)}",
            f"--collector.otlp.http.host-port={at(self.otlp_http_port)}",
            f"--query.http-server.host-port={at(self.query_port)}",
            f"--admin.http.host-port={at(self.admin_port)}",
            *(f"--{flag}.host-port={at(port)}" for flag, port in self._other_ports.items()),
            "--memory.max-traces=10000",
            "--log-level=warn",
        ]

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(self.argv(), log_path=self.log_path, port=self.admin_port)
        # Nothing of this process's environment: OTEL_* would make Jaeger trace itself, and
        # SPAN_STORAGE_TYPE or the like would change its storage.
        server.env = {"PATH": "/usr/bin:/bin"}
        self._server = server.start()
        try:
            # The admin port's health check turns 200 once the collector and query are up.
            server.wait_until_answering("/", {200})
            self._query = JaegerQuery(self.query_url)
            self._wait_query_ready(server)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop and reap the process; safe to call twice or after a failed start."""
        if self._query is not None:
            self._query.close()
            self._query = None
        if self._server is not None:
            # SIGKILL: its traces live in memory only, and its graceful stop takes ~8 s.
            self._server.kill()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def services(self) -> list[str]:
        return self._client().services()

    def trace(self, trace_id: str) -> Trace | None:
        """The trace as Jaeger has it now, or None while it has no span of it."""
        return self._client().trace(trace_id)

    def wait_for_trace(
        self,
        trace_id: str,
        until: Callable[[Trace], bool],
        timeout: float = TRACE_TIMEOUT_SECONDS,
    ) -> Trace:
        """The trace once `until` holds for it; AssertionError with what arrived otherwise."""
        return self._client().wait_for_trace(trace_id, until, timeout)

    def _client(self) -> JaegerQuery:
        if self._query is None:
            raise RuntimeError("Jaeger is not running")
        return self._query

    def _wait_query_ready(self, server: ServerProcess) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                break
            try:
                self.services()
                return
            except (httpx.TransportError, AssertionError):
                time.sleep(POLL_SECONDS)
        raise ServerNotAnswering(
            f"Jaeger's query API on {self.query_port} is not answering:\n{self.log_text()[-4000:]}"
        )


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise AssertionError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:2000]}"
        )
    body = response.json()
    if not isinstance(body, dict):
        raise AssertionError(f"{response.request.url} answered {body!r}, not an object")
    return body
