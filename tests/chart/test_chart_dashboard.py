"""The Grafana dashboard ConfigMap (templates/grafana-dashboard.yaml, dashboards/mcp-servers.json).

Off by default; on, one ConfigMap per release with the sidecar's label, the folder annotation
and an optional namespace; its JSON parses, every panel has queries that promtool parses, and
every series they read is one the code exports, one Prometheus makes (`up`, `ALERTS`) or one of
the cAdvisor series the test cluster's Prometheus keeps. tests/cluster/
test_cluster_monitoring.py runs the same queries against real data.
"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_render import (
    CHART,
    KUBERNETES_VERSIONS,
    NAMESPACE,
    REPO_ROOT,
    VALUES_DIR,
    Render,
    kubeconform,
    render,
    render_error,
    tool,
)

TODO = (VALUES_DIR / "todo.yaml",)
DASHBOARD_FILE = CHART / "dashboards" / "mcp-servers.json"
VARIABLES = {"$namespace": "mcp", "$server": ".+", "$tool": ".+", "$__rate_interval": "30s"}
# Names PromQL reads as functions, keywords or label names, not as series.
PROMQL_WORDS = {
    "sum", "max", "min", "count", "rate", "by", "on", "group", "group_left", "unless",
    "histogram_quantile", "changes", "max_over_time", "and", "or",
}  # fmt: skip
PROMETHEUS_SERIES = {"up", "ALERTS"}
# prometheus-client's process collector, which servers/mcp_runtime/metrics.py registers.
PROCESS_SERIES = {"process_start_time_seconds"}


def dashboard_configmap(render_result: Render) -> dict[str, Any]:
    (configmap,) = [
        obj
        for obj in render_result.all("ConfigMap")
        if obj["metadata"]["labels"].get("app.kubernetes.io/component") == "grafana-dashboard"
    ]
    return configmap


def dashboard(render_result: Render) -> dict[str, Any]:
    (text,) = dashboard_configmap(render_result)["data"].values()
    return json.loads(text)


def enabled(*values: str, release: str = "rel") -> Render:
    return render(TODO, set_json=("grafanaDashboard.enabled=true", *values), release=release)


def expressions(board: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"]) for panel in board["panels"] for target in panel["targets"]
    ]


def concrete(expr: str) -> str:
    """The expression with the dashboard's variables filled in as the cluster test does."""
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def cadvisor_series() -> set[str]:
    """The cAdvisor series cluster/manifests/prometheus.yaml keeps (its metric_relabel regex)."""
    manifests = yaml.safe_load_all((REPO_ROOT / "cluster/manifests/prometheus.yaml").read_text())
    config = next(
        m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == "prometheus"
    )
    prometheus = yaml.safe_load(config["data"]["prometheus.yml"])
    (job,) = [j for j in prometheus["scrape_configs"] if j["job_name"] == "kubelet-cadvisor"]
    (keep,) = job["metric_relabel_configs"]
    prefix, alternatives = re.fullmatch(r"(\w+)\((.*)\)", keep["regex"]).groups()
    return {prefix + name for name in alternatives.split("|")}


def exported_by_the_code(name: str) -> bool:
    """Whether servers/ or clients/ declare the series (prometheus-client adds the suffixes)."""
    if name in PROCESS_SERIES:
        return "ProcessCollector(" in (REPO_ROOT / "servers/mcp_runtime/metrics.py").read_text()
    base = re.sub(r"_(total|bucket|count|sum)$", "", name)
    for root in ("servers", "clients"):
        for path in (REPO_ROOT / root).rglob("*.py"):
            if f'"{base}"' in path.read_text():
                return True
    return False


def test_off_by_default():
    assert not [
        obj
        for obj in render(TODO).all("ConfigMap")
        if obj["metadata"]["name"].endswith("dashboard")
    ]


def test_one_configmap_with_the_sidecar_label_in_the_release_namespace():
    configmap = dashboard_configmap(enabled())
    meta = configmap["metadata"]
    assert meta["name"] == "rel-mcp-dashboard"
    assert meta["namespace"] == NAMESPACE
    assert meta["labels"]["grafana_dashboard"] == "1"
    assert meta["labels"]["app.kubernetes.io/instance"] == "rel"
    assert meta["labels"]["app.kubernetes.io/component"] == "grafana-dashboard"
    assert "annotations" not in meta
    assert list(configmap["data"]) == [f"{dashboard(enabled())['uid']}.json"]


def test_two_releases_dashboards_are_two_files_for_the_sidecar():
    """The sidecar writes each ConfigMap key as a file of that name into one folder: two
    releases' dashboards under one key would overwrite each other there, whatever their uids."""
    into = 'grafanaDashboard.namespace="monitoring"'
    keys = {
        release: list(dashboard_configmap(enabled(into, release=release))["data"])
        for release in ("rel", "other")
    }
    assert keys["rel"] != keys["other"]
    for release, (key,) in keys.items():
        assert key == f"{dashboard(enabled(into, release=release))['uid']}.json"


def test_same_named_releases_of_two_namespaces_have_two_configmaps_in_grafanas():
    """Each release of its own namespace may put its dashboard in Grafana's namespace: there one
    name for both would be one object, which Helm lets only one of the releases own."""
    into = ("grafanaDashboard.enabled=true", 'grafanaDashboard.namespace="monitoring"')
    names = {
        namespace: dashboard_configmap(
            render(TODO, set_json=into, extra=("--namespace", namespace))
        )["metadata"]["name"]
        for namespace in (NAMESPACE, "team-b")
    }
    assert names[NAMESPACE] != names["team-b"]
    assert all(re.fullmatch(r"rel-mcp-dashboard-[0-9a-f]{12}", name) for name in names.values())


def test_labels_annotations_folder_and_namespace_are_configurable():
    configmap = dashboard_configmap(
        enabled(
            'grafanaDashboard.labels={"dashboards": "mcp"}',
            'grafanaDashboard.annotations={"team": "platform"}',
            'grafanaDashboard.folder="MCP fleet"',
            'grafanaDashboard.folderAnnotation="k8s-sidecar-target-directory"',
            'grafanaDashboard.namespace="monitoring"',
            'global.commonLabels={"cost-center": "42"}',
        )
    )
    meta = configmap["metadata"]
    assert meta["namespace"] == "monitoring"
    assert meta["labels"]["dashboards"] == "mcp"
    assert meta["labels"]["grafana_dashboard"] == "1"  # Helm merges maps with the default's
    assert meta["labels"]["cost-center"] == "42"
    assert meta["annotations"] == {
        "team": "platform",
        "k8s-sidecar-target-directory": "MCP fleet",
    }
    # null removes the default label, for a sidecar that selects by another one.
    replaced = dashboard_configmap(
        enabled('grafanaDashboard.labels={"grafana_dashboard": null, "dashboards": "mcp"}')
    )
    assert "grafana_dashboard" not in replaced["metadata"]["labels"]
    assert replaced["metadata"]["labels"]["dashboards"] == "mcp"


def test_the_json_is_the_charts_file_made_the_releases_own():
    board = dashboard(enabled())
    shipped = json.loads(DASHBOARD_FILE.read_text())
    assert board["panels"] == shipped["panels"]
    assert board["title"] == f"MCP servers: rel in {NAMESPACE}"
    other = dashboard(enabled(release="other"))
    assert board["uid"] != other["uid"]
    assert re.fullmatch(r"mcp-servers-[0-9a-f]{12}", board["uid"])  # Grafana: at most 40
    (namespace,) = [v for v in board["templating"]["list"] if v["name"] == "namespace"]
    assert namespace["current"]["value"] == NAMESPACE


def test_variables_pick_the_data_source_server_and_tool():
    board = dashboard(enabled())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"datasource", "namespace", "server", "tool"}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["server"]["multi"] and variables["server"]["includeAll"]
    assert variables["tool"]["multi"] and variables["tool"]["includeAll"]
    # Every query goes to the chosen data source.
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_panel_has_queries_that_parse():
    board = dashboard(enabled())
    titles = [panel["title"] for panel in board["panels"]]
    assert len(titles) == len(set(titles)) >= 12
    for panel in board["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.strip(), panel["title"]
            leftover = set(re.findall(r"\$\w+", concrete(expr)))
            assert not leftover, f"{panel['title']}: unknown variables {leftover}"
            parsed = tool("promtool", "--experimental", "promql", "format", concrete(expr))
            assert parsed.returncode == 0, f"{panel['title']}: {parsed.stderr}"
            assert target["legendFormat"], panel["title"]
    # The panels, each somewhere.
    text = " ".join(titles).lower()
    for topic in ("calls/s", "error rate", "p50", "p95", "p99", "ready replicas", "restarts",
                  "cpu", "memory", "drains", "circuit breakers", "gateway"):  # fmt: skip
        assert topic in text, topic


def test_panels_read_only_series_that_exist():
    cadvisor = cadvisor_series()
    read = set()
    for title, expr in expressions(json.loads(DASHBOARD_FILE.read_text())):
        names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", concrete(expr)))
        for name in names - PROMQL_WORDS:
            read.add(name)
            assert name in PROMETHEUS_SERIES or name in cadvisor or exported_by_the_code(name), (
                f"{title}: nothing exports {name}"
            )
    assert {"mcp_tool_calls_total", "mcp_gateway_upstream_up", "mcp_backend_client_breaker_state",
            "container_cpu_usage_seconds_total"} <= read  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ('grafanaDashboard.labels={"grafana_dashboard": null}',),
            "grafanaDashboard.labels: set at least the label",
        ),
        (
            ('grafanaDashboard.folder="MCP"', 'grafanaDashboard.folderAnnotation=""'),
            "grafanaDashboard.folderAnnotation: name the annotation",
        ),
        (('grafanaDashboard.namespace="Not_A_Namespace"',), "/grafanaDashboard/namespace"),
        (('grafanaDashboard.labels={"grafana_dashboard": 1}',), "/grafanaDashboard/labels/"),
        (("grafanaDashboard.title=1",), "/grafanaDashboard"),
    ],
)
def test_bad_values_name_their_key(values: tuple[str, ...], message: str):
    error = render_error(TODO, ("grafanaDashboard.enabled=true", *values))
    assert message in error, error


def test_the_shipped_file_is_what_the_chart_packages(tmp_path: Path):
    result = tool("helm", "package", str(CHART), "--destination", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (package,) = tmp_path.glob("*.tgz")
    with tarfile.open(package) as archive:
        assert "mcp-servers/dashboards/mcp-servers.json" in archive.getnames()


def test_the_configmap_passes_kubeconform(tmp_path: Path):
    result = enabled('grafanaDashboard.namespace="monitoring"', 'grafanaDashboard.folder="MCP"')
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump(dashboard_configmap(result)))
    report = kubeconform(KUBERNETES_VERSIONS[-1], tmp_path)
    assert [r["status"] for r in report["resources"]] == ["statusValid"]
