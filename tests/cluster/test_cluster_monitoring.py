"""Monitoring on the cluster: the chart's ServiceMonitor and PrometheusRule run by a real
Prometheus (`scripts/cluster.sh prometheus`, namespace monitoring), and the chart's Grafana
dashboard's queries answered by it.

One release of todo and the gateway, the reference backend beside them (it calls todo through
mcp-backend-client, whose circuit breaker the dashboard shows), all scraped through the jobs
harness.prometheus_operator makes of their ServiceMonitors, as the Prometheus Operator would.
Todo scaled to 0 fires MCPServerUnavailable and the gateway's MCPGatewayUpstreamDown (their
`for:` shortened through the chart's `unavailableFor`) and opens the backend's breaker; todo
back resolves the alerts and closes it.
Then every query of every dashboard panel returns data over the run, and the data is saved for
scripts/render_dashboard.py, which the test runs once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from harness.dashboard import fetch, queries_without_data
from harness.prometheus_operator import ClusterPrometheus, scrape_jobs
from kube import Kube
from release_values import FAST as RELEASE_FAST
from todo_backend import todo_backend_manifests

pytestmark = pytest.mark.timeout(900)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "mcp-servers"
NAMESPACE = "prom-apps"
RELEASE = "prom"
IN_NS = ("-n", NAMESPACE)
SCRAPE = "5s"
UNAVAILABLE_FOR = "15s"
BACKEND_SELECTOR = {"app.kubernetes.io/name": "todo-backend"}
DATA = REPO_ROOT / ".run" / "monitoring" / "dashboard-data.json"
STATS_CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "todo-stats"},
    "data": {"metrics.txt": "# TYPE todo_stats_info gauge\ntodo_stats_info 1\n"},
}
FAST = {
    **RELEASE_FAST,
    "metrics": {
        "serviceMonitor": {"enabled": True, "interval": SCRAPE, "scrapeTimeout": "4s"},
        "prometheusRule": {"enabled": True, "unavailableFor": UNAVAILABLE_FOR},
    },
}


@pytest.fixture(scope="module")
def prometheus(repo_root: Path, kube: Kube) -> ClusterPrometheus:
    result = subprocess.run(
        ["bash", "scripts/cluster.sh", "prometheus"], cwd=repo_root, capture_output=True,
        text=True, timeout=3600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (url,) = re.findall(r"^http://\S+$", result.stdout, re.MULTILINE)
    return ClusterPrometheus(repo_root / ".run" / "cluster" / "kubeconfig", url)


def release_args(todo_image: str) -> list[str]:
    todo = {
        "secrets": [],
        "autoscaling": {"enabled": False},
        "replicas": 1,
        # todo.yaml's limits (500m, 512Mi) stay: the dashboard draws usage against them.
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "networkPolicy.ingressFrom": [{"podSelector": {"matchLabels": BACKEND_SELECTOR}}],
        # A sidecar with metrics of its own (a static exporter: the image's Python serving a
        # file), scraped through the Service and NetworkPolicy beside the server.
        "persistence": {"stats": {"type": "configMap", "name": STATS_CONFIGMAP["metadata"]["name"],
                                  "mountInServer": False}},
        "sidecars": {"stats": {
            "image": {"repository": "mcp-servers/todo", "tag": todo_image.rsplit(":", 1)[1]},
            "command": ["python", "-m", "http.server", "9102", "--directory", "/srv/stats"],
            "ports": [{"name": "stats-metrics", "containerPort": 9102}],
            "metrics": {"port": "stats-metrics", "path": "/metrics.txt"},
            "volumeMounts": [{"name": "stats", "mountPath": "/srv/stats"}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        }},
    }  # fmt: skip
    values = [f"servers.todo.{key}={json.dumps(value)}" for key, value in todo.items()]
    values += [f"defaults={json.dumps(FAST)}", 'gateway={"enabled": true}']
    values += [f"extraObjects={json.dumps([STATS_CONFIGMAP])}"]
    return [
        "-f", str(REPO_ROOT / "values" / "todo.yaml"),
        *[arg for value in values for arg in ("--set-json", value)],
    ]  # fmt: skip


def backend_manifests(image: str) -> dict:
    """The backend with a breaker that opens after 2 failures and tries again after 5 s, and a
    ServiceMonitor for its /metrics."""
    resilience = {
        "TIMEOUT_SECONDS": 1,
        "RETRY_ATTEMPTS": 1,
        "BREAKER_FAILURE_THRESHOLD": 2,
        "BREAKER_RESET_SECONDS": 5,
    }
    manifests = todo_backend_manifests(NAMESPACE, image, resilience)
    manifests["items"].append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "todo-backend", "labels": BACKEND_SELECTOR},
            "spec": {
                "selector": {"matchLabels": BACKEND_SELECTOR},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": SCRAPE}],
            },
        }
    )
    return manifests


def firing(prometheus: ClusterPrometheus, alert: str) -> list[dict]:
    return [
        a for a in prometheus.alerts()
        if a["labels"]["alertname"] == alert and a["labels"].get("namespace") == NAMESPACE
        and a["state"] == "firing"
    ]  # fmt: skip


def test_prometheus_scrapes_the_chart_fires_and_resolves_unavailable_and_feeds_the_dashboard(
    repo_root: Path, kube: Kube, server_images: list[str], prometheus: ClusterPrometheus
) -> None:
    began = time.monotonic()
    image = next(i for i in server_images if i.startswith("localhost/mcp-servers/todo-backend:"))
    todo_image = next(i for i in server_images if i.startswith("localhost/mcp-servers/todo:"))
    kube.kubectl("create", "namespace", NAMESPACE, check=False)
    try:
        kube.apply(backend_manifests(image), NAMESPACE)
        kube.helm(
            "upgrade", "--install", RELEASE, str(CHART), *IN_NS, *release_args(todo_image),
            "--wait", "--timeout", "4m",
        )  # fmt: skip
        kube.kubectl(*IN_NS, "rollout", "status", "deployment/todo-backend", "--timeout=120s")
        start = time.time()
        jobs = prometheus.sync(NAMESPACE)
        assert sorted(jobs) == [
            f"serviceMonitor/{NAMESPACE}/{name}"
            for name in ("gateway-mcp/0", "todo-backend/0", "todo-mcp/0", "todo-mcp/1")
        ]

        # The job Prometheus runs (scrape_pools above) is the operator's for the
        # ServiceMonitor helm rendered; the targets' labels below show its relabelings at work.
        manifest = yaml.safe_load_all(kube.helm("get", "manifest", RELEASE, *IN_NS))
        (monitor,) = [
            m for m in manifest
            if m and m["kind"] == "ServiceMonitor" and m["metadata"]["name"] == "todo-mcp"
        ]  # fmt: skip
        running = [
            j for j in prometheus.scrape_configs(NAMESPACE)
            if j["job_name"].startswith(f"serviceMonitor/{NAMESPACE}/todo-mcp/")
        ]  # fmt: skip
        assert sorted(running, key=lambda job: job["job_name"]) == scrape_jobs(monitor)
        server_job, sidecar_job = scrape_jobs(monitor)
        assert server_job["scrape_interval"] == SCRAPE and server_job["metrics_path"] == "/metrics"
        assert sidecar_job["metrics_path"] == "/metrics.txt"

        # Scraped, through the NetworkPolicy's metricsFrom, with the labels the alerts select.
        (pod,) = kube.pods(NAMESPACE, "app.kubernetes.io/name=todo")
        # The server's endpoint, as the alerts select it: the pod's sidecar is a target too.
        target = (
            f'up{{namespace="{NAMESPACE}", service="todo-mcp", endpoint="metrics", pod="{pod}"}}'
        )
        (up,) = kube.wait_for(f"{target} == 1", lambda: prometheus.query(f"{target} == 1"), 120)
        labels = up["metric"]
        assert labels["job"] == "todo-mcp" and labels["container"] == "server"
        assert labels["endpoint"] == "metrics" and labels["pod"].startswith("todo-mcp-")
        # The sidecar's own endpoint, its series labelled with its container and port.
        stats = f'todo_stats_info{{namespace="{NAMESPACE}", service="todo-mcp", pod="{pod}"}}'
        (info,) = kube.wait_for(stats, lambda: prometheus.query(stats), 120)
        assert info["metric"]["container"] == "stats", info
        assert info["metric"]["endpoint"] == "stats-metrics", info
        for service in ("gateway-mcp", "todo-backend"):
            query = f'up{{namespace="{NAMESPACE}", service="{service}"}} == 1'
            kube.wait_for(query, lambda q=query: prometheus.query(q), 120)
        # Per container, as the CPU and memory alerts select them (container="server").
        for series in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes"):
            kube.wait_for(
                f"cAdvisor's {series} of todo's server container",
                lambda series=series: prometheus.query(
                    f'{series}{{namespace="{NAMESPACE}", pod="{pod}", container="server"}}'
                ),
                120,
            )
        assert not firing(prometheus, "MCPServerUnavailable")
        assert not firing(prometheus, "MCPGatewayUpstreamDown")

        # What reaches todo's Service (here the backend, a client it admits) gets no metrics:
        # they are on the metrics port alone, which Prometheus scrapes through the
        # NetworkPolicy's metricsFrom (the `up` above).
        fetch_status = (
            "import sys, urllib.request, urllib.error\n"
            "try: print(urllib.request.urlopen(sys.argv[1], timeout=5).status)\n"
            "except urllib.error.HTTPError as e: print(e.code)"
        )
        seen = {
            path: kube.kubectl(
                *IN_NS, "exec", "deploy/todo-backend", "--",
                "python", "-c", fetch_status, f"http://todo-mcp:8001{path}",
            ).strip()
            for path in ("/metrics", "/ready")
        }  # fmt: skip
        assert seen == {"/metrics": "404", "/ready": "200"}

        node_ip = kube.kubectl(
            "get", "nodes", "-o",
            'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}',
        )  # fmt: skip
        port = kube.get("service", *IN_NS, "todo-backend")["spec"]["ports"][0]["nodePort"]
        backend = httpx.Client(base_url=f"http://{node_ip}:{port}", timeout=30)

        def traffic(seconds: float) -> None:
            """Tool calls through the backend: reads, writes and a missing task (a tool error)."""
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                backend.post("/api/tasks", json={"title": "watched"})
                backend.get("/api/tasks")
                backend.get("/api/tasks/999999")
                time.sleep(0.2)

        traffic(20)
        calls = f'sum(mcp_tool_calls_total{{namespace="{NAMESPACE}", service="todo-mcp"}})'
        kube.wait_for("tool calls counted", lambda: prometheus.query(f"{calls} > 30"), 60)

        # Down: no pod answers, the alert fires after its `for:`, the breaker opens.
        kube.kubectl(*IN_NS, "scale", "deployment/todo-mcp", "--replicas=0")
        down = time.monotonic()
        kube.wait_for(
            "MCPServerUnavailable to fire",
            lambda: (traffic(1), firing(prometheus, "MCPServerUnavailable"))[1],
            120,
        )
        fired_after = time.monotonic() - down
        (alert,) = firing(prometheus, "MCPServerUnavailable")
        assert alert["labels"]["service"] == "todo-mcp"
        assert alert["labels"]["severity"] == "critical"
        open_breaker = (
            f'mcp_backend_client_breaker_state{{namespace="{NAMESPACE}", server="todo",'
            ' mcp_backend_client_breaker_state="open"} == 1'
        )
        kube.wait_for("the breaker open", lambda: prometheus.query(open_breaker), 60)
        # The gateway in front of todo no longer reaches it either.
        kube.wait_for(
            "MCPGatewayUpstreamDown to fire",
            lambda: firing(prometheus, "MCPGatewayUpstreamDown"),
            60,
        )
        (alert,) = firing(prometheus, "MCPGatewayUpstreamDown")
        assert alert["labels"]["service"] == "gateway-mcp"
        assert alert["labels"]["server"] == "todo"
        assert alert["labels"]["severity"] == "warning"

        # Back: the alert resolves, the breaker closes.
        kube.kubectl(*IN_NS, "scale", "deployment/todo-mcp", "--replicas=1")
        back = time.monotonic()
        kube.kubectl(*IN_NS, "rollout", "status", "deployment/todo-mcp", "--timeout=120s")
        kube.wait_for(
            "MCPServerUnavailable to resolve",
            lambda: (traffic(1), not firing(prometheus, "MCPServerUnavailable"))[1],
            120,
        )
        resolved_after = time.monotonic() - back
        kube.wait_for(
            "MCPGatewayUpstreamDown to resolve",
            lambda: not firing(prometheus, "MCPGatewayUpstreamDown"),
            60,
        )
        closed = open_breaker.replace('"open"', '"closed"')
        kube.wait_for("the breaker closed", lambda: (traffic(1), prometheus.query(closed))[1], 60)
        traffic(15)
        time.sleep(10)  # two more scrapes of the last calls

        # Every query of every panel has data over the run.
        end = time.time()
        variables = {"namespace": NAMESPACE, "server": ".+", "tool": ".+"}
        data = fetch(prometheus.query_range, variables, start, end, 5)
        assert queries_without_data(data) == []
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_text(json.dumps(data))
        rendered = subprocess.run(
            [sys.executable, "scripts/render_dashboard.py", "--data", str(DATA),
             "--out", str(DATA.with_suffix(".png"))],
            cwd=repo_root, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert rendered.returncode == 0, rendered.stderr
        print(
            f"monitoring: fired {fired_after:.0f} s after scaling to 0 (for: {UNAVAILABLE_FOR}),"
            f" resolved {resolved_after:.0f} s after scaling back; "
            f"{sum(len(p['targets']) for p in data['panels'])} dashboard queries with data; "
            f"{time.monotonic() - began:.0f} s in all"
        )
    finally:
        # Targets first, so that Prometheus ends their series (stale markers), which it does
        # not for the targets of a job it drops: a rerun's absent() would see them for 5 min.
        kube.helm("uninstall", RELEASE, *IN_NS, "--wait", check=False)
        kube.kubectl("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s", check=False)
        up = f'up{{namespace="{NAMESPACE}"}}'
        kube.wait_for(f"no {up}", lambda: not prometheus.query(up), 60)
        prometheus.forget(NAMESPACE)
