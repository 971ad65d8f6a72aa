"""The scrape job the test cluster's Prometheus runs for the chart's ServiceMonitor is the one the
Prometheus Operator (v0.85, role `endpoints`) would generate from it.

harness.prometheus_operator derives the job from the ServiceMonitor object; here the rendered
ServiceMonitor's job is compared field by field with the operator's output for it, written out
as the operator's golden files show it (pkg/prometheus/testdata/*ServiceMonitor*.golden), and
promtool accepts it. tests/cluster/test_cluster_monitoring.py then shows the labels it gives the
targets are the ones the chart's alerts select by.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from harness.prometheus_operator import UnsupportedField, rule_groups, scrape_jobs
from helm_render import NAMESPACE, VALUES_DIR, render, tool

MONITORED = (
    "servers.todo.metrics.serviceMonitor.enabled=true",
    'servers.todo.metrics.serviceMonitor.interval="15s"',
    'servers.todo.metrics.serviceMonitor.scrapeTimeout="5s"',
    "servers.todo.metrics.prometheusRule.enabled=true",
)
POD_TARGET = ["__meta_kubernetes_endpoint_address_target_kind",
              "__meta_kubernetes_endpoint_address_target_name"]  # fmt: skip

# What the operator writes for the chart's ServiceMonitor of todo in release `rel`, namespace mcp.
OPERATOR_JOB = {
    "job_name": f"serviceMonitor/{NAMESPACE}/todo-mcp/0",
    "honor_labels": False,
    "kubernetes_sd_configs": [{"role": "endpoints", "namespaces": {"names": [NAMESPACE]}}],
    "scrape_interval": "15s",
    "scrape_timeout": "5s",
    "metrics_path": "/metrics",
    "relabel_configs": [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"},
        {"action": "keep",
         "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_component",
                           "__meta_kubernetes_service_labelpresent_app_kubernetes_io_component"],
         "regex": "(metrics);true"},
        {"action": "keep",
         "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_instance",
                           "__meta_kubernetes_service_labelpresent_app_kubernetes_io_instance"],
         "regex": "(rel);true"},
        {"action": "keep",
         "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name",
                           "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name"],
         "regex": "(todo);true"},
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"],
         "regex": "metrics"},
        {"source_labels": POD_TARGET, "separator": ";", "regex": "Node;(.*)",
         "replacement": "${1}", "target_label": "node"},
        {"source_labels": POD_TARGET, "separator": ";", "regex": "Pod;(.*)",
         "replacement": "${1}", "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"],
         "regex": "(Failed|Succeeded)"},
        {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job",
         "replacement": "${1}"},
        {"target_label": "endpoint", "replacement": "metrics"},
        # The chart's: the server's name where the operator put its metrics Service's.
        {"target_label": "service", "replacement": "todo-mcp", "action": "replace"},
        {"target_label": "job", "replacement": "todo-mcp", "action": "replace"},
        {"source_labels": ["__address__"], "target_label": "__tmp_hash", "modulus": 1,
         "action": "hashmod"},
        {"source_labels": ["__tmp_hash"], "regex": "0", "action": "keep"},
    ],
}  # fmt: skip


def rendered(kind: str) -> dict:
    (obj,) = render((VALUES_DIR / "todo.yaml",), set_json=MONITORED).all(kind)
    return obj


def test_the_rendered_servicemonitor_gives_the_operators_job():
    assert scrape_jobs(rendered("ServiceMonitor")) == [OPERATOR_JOB]


def test_promtool_accepts_the_job(tmp_path: Path):
    (tmp_path / "jobs.yaml").write_text(
        yaml.safe_dump({"scrape_configs": scrape_jobs(rendered("ServiceMonitor"))})
    )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups([rendered("PrometheusRule")])))
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump({"scrape_config_files": ["jobs.yaml"], "rule_files": ["rules.yaml"]})
    )
    result = tool("promtool", "check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_the_rules_are_the_prometheusrules_spec():
    rule = rendered("PrometheusRule")
    assert rule_groups([rule, rule]) == {"groups": rule["spec"]["groups"] * 2}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"targetLabels": ["team"]}, "spec.targetLabels is not supported"),
        ({"selector": {"matchExpressions": []}}, "spec.selector.matchExpressions"),
        (
            {"endpoints": [{"port": "metrics", "relabelings": [{"regex": "x"}]}]},
            "spec.endpoints[0].relabelings[0].regex",
        ),
        (
            {"endpoints": [{"port": "metrics", "relabelings": [{"action": "Drop"}]}]},
            "spec.endpoints[0].relabelings[0].action drop",
        ),
        ({"endpoints": [{"targetPort": 8001}]}, "spec.endpoints[0].targetPort"),
    ],
)
def test_fields_it_does_not_translate_are_refused(change: dict, message: str):
    monitor = rendered("ServiceMonitor")
    monitor = {**monitor, "spec": {**monitor["spec"], **change}}
    with pytest.raises(UnsupportedField, match=message.replace("[", r"\[").replace("]", r"\]")):
        scrape_jobs(monitor)


def test_namespace_selector_any_and_job_label():
    monitor = rendered("ServiceMonitor")
    spec = {
        **monitor["spec"],
        "namespaceSelector": {"any": True},
        "jobLabel": "app.kubernetes.io/name",
    }
    (job,) = scrape_jobs({**monitor, "spec": spec})
    assert job["kubernetes_sd_configs"] == [{"role": "endpoints"}]
    assert {
        "source_labels": ["__meta_kubernetes_service_label_app_kubernetes_io_name"],
        "target_label": "job",
        "regex": "(.+)",
        "replacement": "${1}",
    } in job["relabel_configs"]
