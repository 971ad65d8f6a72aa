"""What the Prometheus Operator makes of ServiceMonitors and PrometheusRules, for the test
cluster's Prometheus (cluster/manifests/prometheus.yaml, `scripts/cluster.sh prometheus`).

The operator cannot be built from the Go module proxy: the one version it serves of
github.com/prometheus-operator/prometheus-operator (v0.85.0) replaces its own
pkg/apis/monitoring and pkg/client modules by directories its module zip leaves out, and the
proxy serves pkg/client at no version and pkg/apis/monitoring not at v0.85.0. So this module
writes, for the ServiceMonitors of a namespace, the scrape jobs that operator generates
(pkg/prometheus/promcfg.go, service discovery role `endpoints`, its default; the relabelings as
in its golden files, pkg/prometheus/testdata/*ServiceMonitor*.golden), and for the
PrometheusRules their `spec`, which the operator writes as a rule file unchanged. A field the
chart never sets is refused (UnsupportedField), never ignored: a job silently unlike the
operator's would prove nothing.

`ClusterPrometheus.sync(namespace)` reads the namespace's objects from the API server, writes
the jobs and rules into the ConfigMaps prometheus-scrape and prometheus-rules (key
`<namespace>.yaml`) and waits until Prometheus runs them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

MONITORING_NAMESPACE = "monitoring"
SCRAPE_CONFIGMAP = "prometheus-scrape"
RULES_CONFIGMAP = "prometheus-rules"
PROMETHEUS_SELECTOR = "app.kubernetes.io/name=prometheus"

SERVICE_MONITOR_SPEC = {"selector", "namespaceSelector", "endpoints", "jobLabel"}
ENDPOINT_FIELDS = {
    "port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels", "relabelings",
}  # fmt: skip
# An endpoint's relabelings: the fields the chart sets (a fixed value for a label), and
# `action`, which the CRD defaults to `replace` in the object the API server keeps.
RELABELING_FIELDS = {"targetLabel", "replacement", "action"}


class UnsupportedField(ValueError):
    """A ServiceMonitor field this translation does not implement (the chart sets none)."""


def _label(name: str) -> str:
    """A Kubernetes label name as a Prometheus meta label suffix (promcfg's sanitizeLabelName)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def scrape_jobs(monitor: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The operator's scrape jobs for one ServiceMonitor, one per endpoint, in its order."""
    meta, spec = monitor["metadata"], monitor["spec"]
    where = f"ServiceMonitor {meta['namespace']}/{meta['name']}"
    for field in sorted(set(spec) - SERVICE_MONITOR_SPEC):
        raise UnsupportedField(f"{where}: spec.{field} is not supported")
    selector = spec.get("selector", {})
    for field in sorted(set(selector) - {"matchLabels"}):
        raise UnsupportedField(f"{where}: spec.selector.{field} is not supported")
    namespaces = spec.get("namespaceSelector", {})
    if namespaces.get("any"):
        sd: dict[str, Any] = {"role": "endpoints"}
    else:
        names = namespaces.get("matchNames") or [meta["namespace"]]
        sd = {"role": "endpoints", "namespaces": {"names": list(names)}}
    jobs = []
    for index, endpoint in enumerate(spec.get("endpoints", [])):
        for field in sorted(set(endpoint) - ENDPOINT_FIELDS):
            raise UnsupportedField(f"{where}: spec.endpoints[{index}].{field} is not supported")
        if "port" not in endpoint:
            raise UnsupportedField(f"{where}: spec.endpoints[{index}] needs `port` (a port name)")
        job: dict[str, Any] = {
            "job_name": f"serviceMonitor/{meta['namespace']}/{meta['name']}/{index}",
            "honor_labels": bool(endpoint.get("honorLabels", False)),
            "kubernetes_sd_configs": [sd],
        }
        for field, key in (
            ("interval", "scrape_interval"),
            ("scrapeTimeout", "scrape_timeout"),
            ("path", "metrics_path"),
            ("scheme", "scheme"),
        ):
            if field in endpoint:
                job[key] = endpoint[field]
        own = []
        for number, relabeling in enumerate(endpoint.get("relabelings", [])):
            for field in sorted(set(relabeling) - RELABELING_FIELDS):
                raise UnsupportedField(
                    f"{where}: spec.endpoints[{index}].relabelings[{number}].{field}"
                    " is not supported"
                )
            action = relabeling.get("action", "replace").lower()
            if action != "replace":
                raise UnsupportedField(
                    f"{where}: spec.endpoints[{index}].relabelings[{number}].action {action}"
                    " is not supported"
                )
            # promcfg's generateRelabelConfig: the fields set, in this order, the action in
            # lower case.
            own.append({"target_label": relabeling["targetLabel"],
                        "replacement": relabeling["replacement"], "action": action})  # fmt: skip
        job["relabel_configs"] = _relabelings(
            selector.get("matchLabels", {}), endpoint["port"], spec.get("jobLabel"), own
        )
        jobs.append(job)
    return jobs


def _relabelings(
    match_labels: Mapping[str, str], port: str, job_label: str | None, own: list[dict[str, Any]]
) -> list:
    relabel: list[dict[str, Any]] = [
        {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}
    ]
    for key in sorted(match_labels):
        relabel.append({
            "action": "keep",
            "source_labels": [
                f"__meta_kubernetes_service_label_{_label(key)}",
                f"__meta_kubernetes_service_labelpresent_{_label(key)}",
            ],
            "regex": f"({match_labels[key]});true",
        })  # fmt: skip
    relabel.append(
        {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": port}
    )
    for kind, target in (("Node", "node"), ("Pod", "pod")):
        relabel.append({
            "source_labels": [
                "__meta_kubernetes_endpoint_address_target_kind",
                "__meta_kubernetes_endpoint_address_target_name",
            ],
            "separator": ";",
            "regex": f"{kind};(.*)",
            "replacement": "${1}",
            "target_label": target,
        })  # fmt: skip
    for source, target in (
        ("__meta_kubernetes_namespace", "namespace"),
        ("__meta_kubernetes_service_name", "service"),
        ("__meta_kubernetes_pod_name", "pod"),
        ("__meta_kubernetes_pod_container_name", "container"),
    ):
        relabel.append({"source_labels": [source], "target_label": target})
    relabel.append({
        "action": "drop",
        "source_labels": ["__meta_kubernetes_pod_phase"],
        "regex": "(Failed|Succeeded)",
    })  # fmt: skip
    relabel.append({
        "source_labels": ["__meta_kubernetes_service_name"],
        "target_label": "job",
        "replacement": "${1}",
    })  # fmt: skip
    if job_label:
        relabel.append({
            "source_labels": [f"__meta_kubernetes_service_label_{_label(job_label)}"],
            "target_label": "job",
            "regex": "(.+)",
            "replacement": "${1}",
        })  # fmt: skip
    relabel.append({"target_label": "endpoint", "replacement": port})
    # The endpoint's own relabelings come after the operator's, so they can override them.
    relabel.extend(own)
    # The operator's sharding, with one shard: its config reloader puts 0 for $(SHARD).
    relabel.append({
        "source_labels": ["__address__"],
        "target_label": "__tmp_hash",
        "modulus": 1,
        "action": "hashmod",
    })  # fmt: skip
    relabel.append({"source_labels": ["__tmp_hash"], "regex": "0", "action": "keep"})
    return relabel


def rule_groups(rules: list[Mapping[str, Any]]) -> dict[str, Any]:
    """One rule file holding the groups of these PrometheusRules, whose `spec` is a rule file."""
    return {"groups": [group for rule in rules for group in rule["spec"].get("groups", [])]}


@dataclass
class ClusterPrometheus:
    """The test cluster's Prometheus: its API at `url`, its ConfigMaps through kubectl."""

    kubeconfig: Path
    url: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            ["kubectl", *args],
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig)},
            capture_output=True, text=True, input=input, timeout=120, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def sync(self, namespace: str, timeout: float = 180) -> list[str]:
        """Run the namespace's ServiceMonitors and PrometheusRules; returns the job names."""
        monitors = json.loads(self.kubectl("-n", namespace, "get", "servicemonitors", "-o", "json"))
        jobs = [job for item in monitors["items"] for job in scrape_jobs(item)]
        rules = json.loads(self.kubectl("-n", namespace, "get", "prometheusrules", "-o", "json"))
        groups = rule_groups(rules["items"])
        self._write(namespace, {"scrape_configs": jobs}, groups)
        names = [job["job_name"] for job in jobs]
        group_names = [group["name"] for group in groups["groups"]]
        self._reload_until(
            f"jobs {names} and rule groups {group_names} of {namespace}",
            lambda: self._running(names, group_names),
            timeout,
        )
        return names

    def forget(self, namespace: str, timeout: float = 180) -> None:
        """Stop scraping the namespace and evaluating its rules."""
        key = f"{namespace}.yaml"
        for configmap in (SCRAPE_CONFIGMAP, RULES_CONFIGMAP):
            patch = json.dumps([{"op": "remove", "path": f"/data/{key}"}])
            self.kubectl(
                "-n", MONITORING_NAMESPACE, "patch", "configmap", configmap, "--type", "json",
                "-p", patch, check=False,
            )  # fmt: skip
        prefix = f"serviceMonitor/{namespace}/"
        self._reload_until(
            f"no job of {namespace}",
            lambda: not [pool for pool in self.scrape_pools() if pool.startswith(prefix)],
            timeout,
        )

    def scrape_pools(self) -> list[str]:
        """The jobs Prometheus runs, from every scrape config file (/api/v1/status/config shows
        only the main file's)."""
        return self.get("/api/v1/scrape_pools")["data"]["scrapePools"]

    def scrape_configs(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's jobs as written for Prometheus (its ConfigMap key)."""
        text = self.kubectl(
            "-n", MONITORING_NAMESPACE, "get", "configmap", SCRAPE_CONFIGMAP, "-o", "json"
        )
        configmap = json.loads(text)
        return yaml.safe_load(configmap["data"][f"{namespace}.yaml"])["scrape_configs"]

    # On a loaded node Prometheus can miss a readiness probe; its NodePort then refuses
    # connections until the next probe passes, which says nothing about what is asked.
    @retry(
        retry=retry_if_exception_type(httpx.TransportError),
        stop=stop_after_delay(60),
        wait=wait_fixed(1),
        reraise=True,
    )
    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=expr)["data"]["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list:
        body = self.get("/api/v1/query_range", query=expr, start=start, end=end, step=step)
        return body["data"]["result"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.get("/api/v1/alerts")["data"]["alerts"]

    def _write(self, namespace: str, scrape: dict[str, Any], groups: dict[str, Any]) -> None:
        key = f"{namespace}.yaml"
        for configmap, content in ((SCRAPE_CONFIGMAP, scrape), (RULES_CONFIGMAP, groups)):
            patch = json.dumps({"data": {key: yaml.safe_dump(content, sort_keys=False)}})
            self.kubectl(
                "-n", MONITORING_NAMESPACE, "patch", "configmap", configmap, "--type", "merge",
                "-p", patch,
            )  # fmt: skip

    def _running(self, jobs: list[str], groups: list[str]) -> bool:
        running = set(self.scrape_pools())
        loaded = {group["name"] for group in self.get("/api/v1/rules")["data"]["groups"]}
        return set(jobs) <= running and set(groups) <= loaded

    def _reload_until(self, what: str, done: Any, timeout: float) -> None:
        """The kubelet refreshes a ConfigMap volume at its next sync of the pod, up to a minute
        away; a changed annotation makes that sync now. Then Prometheus re-reads its files."""
        deadline = time.monotonic() + timeout
        while True:
            self.kubectl(
                "-n", MONITORING_NAMESPACE, "annotate", "pod", "-l", PROMETHEUS_SELECTOR,
                f"mcp-servers.local/synced={time.time_ns()}", "--overwrite",
            )  # fmt: skip
            httpx.post(f"{self.url}/-/reload", timeout=30)
            if done():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"Prometheus did not load {what} within {timeout:.0f}s")
            time.sleep(2)
