"""Traces on the cluster: the chart's `tracing` block, set once in `defaults`, turns on the
todo server and the gateway of one release, built with the `tracing` extra
(localhost/mcp-servers/<name>:<version>-tracing), against the in-cluster PostgreSQL; they export to
Jaeger in namespace `tracing` (`scripts/cluster.sh tracing`) through their NetworkPolicy. A
call with a W3C `traceparent` header, sent from the host through a port-forward to the gateway,
is one trace in Jaeger from the caller's span through the gateway's spans and todo's tool span
to asyncpg's statements, with the pods' resource attributes; the log line of the call in each
pod carries its trace id."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import run_script
from harness.jaeger import JaegerQuery, Span, Trace
from harness.jsonrpc import modern_request
from kube import Kube

if TYPE_CHECKING:
    from conftest import TraceBackend

# Building the two traced images from empty caches takes minutes on two cores.
pytestmark = pytest.mark.timeout(1200)

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "mcp-servers"
NAMESPACE = "trace-e2e"
RELEASE = "trace"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# The server images with the OpenTelemetry SDK: build-images.sh's tag for EXTRAS=tracing.
TRACED_TAG = f"{VERSION}-tracing"
TRACED = ("todo", "gateway")
# The gateway's port (its registry entry); reached through a port-forward, which enters the
# pod's network namespace, so the NetworkPolicies of the release stay as they are.
GATEWAY_PORT = 8020
# Spans leave in batches (the SDK's default delay, 5 s) and Jaeger indexes them at once; a
# loaded 2-core machine gets the rest.
TRACE_TIMEOUT_SECONDS = 90


@pytest.fixture(scope="module")
def traced_images(kube: Kube) -> list[str]:
    """localhost/mcp-servers/{todo,gateway}:<version>-tracing, built (incremental: seconds when
    nothing changed) and loaded into the cluster."""
    run_script(
        REPO, "-c", f'EXTRAS=tracing SERVERS="{" ".join(TRACED)}" bash scripts/build-images.sh'
    )
    images = [f"localhost/mcp-servers/{name}:{TRACED_TAG}" for name in TRACED]
    run_script(REPO, "scripts/cluster.sh", "load", *images)
    return images


def release_values(backend: TraceBackend) -> list[str]:
    tracing = {
        "enabled": True,
        "endpoint": backend.otlp_endpoint,
        # Only Jaeger's namespace on its OTLP port, not any address.
        "egressTo": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tracing"}}}
        ],
    }
    todo = {
        "image.tag": TRACED_TAG,
        # The plain Secret of cluster/manifests/database-secrets.yaml, not the ExternalSecret.
        "secrets": [],
        "existingSecret": "mcp-todo-database",
        "autoscaling.enabled": False,
        "replicas": 1,
    }
    values = [f"servers.todo.{key}={json.dumps(value)}" for key, value in todo.items()]
    values += [
        f"defaults.tracing={json.dumps(tracing)}",
        "gateway.enabled=true",
        f'gateway.server.image.tag="{TRACED_TAG}"',
    ]
    return [arg for value in values for arg in ("--set-json", value)]


@pytest.fixture(scope="module")
def traced_release(
    kube: Kube,
    traced_images: list[str],
    trace_backend: TraceBackend,
    in_cluster_postgresql: None,
) -> Iterator[None]:
    kube.kubectl("create", "namespace", NAMESPACE, check=False)
    try:
        kube.kubectl(
            "-n", NAMESPACE, "apply", "-f", str(REPO / "cluster/manifests/database-secrets.yaml")
        )
        kube.helm(
            "upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE,
            "-f", str(REPO / "values" / "todo.yaml"), *release_values(trace_backend),
            "--wait", "--timeout", "5m",
        )  # fmt: skip
        yield
    finally:
        kube.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
        kube.kubectl("delete", "namespace", NAMESPACE, "--timeout", "180s", check=False)


@pytest.fixture
def gateway_url(kube: Kube, traced_release: None) -> Iterator[str]:
    """http://127.0.0.1:PORT/mcp, a port-forward to the gateway's Service."""
    forward = subprocess.Popen(
        ["kubectl", "-n", NAMESPACE, "port-forward", "service/gateway-mcp",
         f":{GATEWAY_PORT}", "--address", "127.0.0.1"],
        env=kube.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert forward.stdout is not None
        # "Forwarding from 127.0.0.1:PORT -> 8020", once it listens.
        line = forward.stdout.readline()
        port = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert port, line
        yield f"http://127.0.0.1:{port.group(1)}/mcp"
    finally:
        forward.terminate()
        forward.wait(timeout=30)


def pod_name(kube: Kube, server: str) -> str:
    pods = kube.pods(NAMESPACE, f"app.kubernetes.io/name={server}")
    (name,) = [n for n, pod in pods.items() if not pod["metadata"].get("deletionTimestamp")]
    return name


def tool_call_events(kube: Kube, server: str, trace_id: str) -> list[dict[str, Any]]:
    log = kube.kubectl("-n", NAMESPACE, "logs", f"deploy/{server}-mcp", "-c", "server")
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == "tool_call" and e.get("trace_id") == trace_id]


def asyncpg_spans(trace: Trace, under: Span) -> list[Span]:
    """todo's PostgreSQL statements (asyncpg's instrumentation) below the span `under`."""
    return [
        span
        for span in trace.spans
        if span.service == "todo"
        and "postgresql" in (span.tags.get("db.system"), span.tags.get("db.system.name"))
        and under in trace.ancestors(span)
    ]


def test_one_trace_from_the_caller_through_the_gateway_and_todo_to_postgresql(
    kube: Kube, trace_backend: TraceBackend, gateway_url: str
) -> None:
    started = time.monotonic()
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    headers, message = modern_request(
        "tools/call", {"name": "todo_create_task", "arguments": {"title": "traced on a cluster"}}
    )
    answer = httpx.post(
        gateway_url,
        json=message,
        headers={**headers, "traceparent": f"00-{trace_id}-{caller_span}-01"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert not answer.json()["result"].get("isError"), answer.text

    def complete(trace: Trace) -> bool:
        tools = trace.named("tools/call create_task", "todo")
        return bool(
            trace.named("tools/call todo_create_task", "gateway")
            and trace.named("tools/call create_task", "gateway")
            and tools
            and asyncpg_spans(trace, tools[0])
        )

    jaeger = JaegerQuery(trace_backend.query_url)
    try:
        trace = jaeger.wait_for_trace(trace_id, complete, timeout=TRACE_TIMEOUT_SECONDS)
    finally:
        jaeger.close()
    (front,) = trace.named("tools/call todo_create_task", "gateway")
    (upstream_call,) = trace.named("tools/call create_task", "gateway")
    (tool,) = trace.named("tools/call create_task", "todo")
    statements = asyncpg_spans(trace, tool)

    # One connected trace, hanging from the caller's span.
    assert trace.roots() == [front]
    assert front.parent_id == caller_span
    assert front in trace.ancestors(upstream_call)
    assert upstream_call in trace.ancestors(tool)
    assert (front.kind, upstream_call.kind, tool.kind) == ("server", "client", "server")
    assert {span.kind for span in statements} == {"client"}
    # The semantic conventions for MCP and GenAI tool calls, as FastMCP sets them.
    assert {
        key: tool.tags.get(key)
        for key in ("mcp.method.name", "gen_ai.tool.name", "gen_ai.operation.name")
    } == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "create_task",
        "gen_ai.operation.name": "execute_tool",
    }
    queries = [
        str(span.tags.get("db.statement", span.tags.get("db.query.text", "")))
        for span in statements
    ]
    assert any(query.lstrip().upper().startswith("INSERT") for query in queries), queries

    # The pods' resource attributes, from the chart's OTEL_RESOURCE_ATTRIBUTES.
    for span, server in ((tool, "todo"), (front, "gateway")):
        assert {
            key: span.resource.get(key)
            for key in ("k8s.pod.name", "k8s.namespace.name", "k8s.deployment.name")
        } == {
            "k8s.pod.name": pod_name(kube, server),
            "k8s.namespace.name": NAMESPACE,
            "k8s.deployment.name": f"{server}-mcp",
        }
        assert span.resource.get("service.version") == TRACED_TAG
        assert span.resource.get("k8s.node.name")

    # The log line of the call, in each pod, names the trace and its own span.
    for server, span in (("gateway", front), ("todo", tool)):
        events = tool_call_events(kube, server, trace_id)
        assert [event["span_id"] for event in events] == [span.span_id], events
    print(f"traced call checked in {time.monotonic() - started:.1f} s")
