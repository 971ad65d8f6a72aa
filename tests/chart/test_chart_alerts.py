"""The PrometheusRule's alerts, run by promtool on synthetic series.

Each directory under alerts/ is one render: its values.yaml, and promtool unit tests
(`promtool test rules`) that read the rendered rule groups as rules.yaml. The tests make each
alert fire and not fire (below its threshold, or above it for less than its `for:`) and compare
the exact labels and annotations at each evaluation time. A rule broken on purpose (a threshold
or a `for:` moved, a term dropped) must fail them: MUTATIONS.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.locks import locked
from helm_render import REPO_ROOT, TOOLS_BIN, render, render_error, tool

ALERTS_DIR = Path(__file__).with_name("alerts")
SCENARIOS = sorted(path.name for path in ALERTS_DIR.iterdir() if path.is_dir())
UNIT_TESTS = [
    (scenario, path.name)
    for scenario in SCENARIOS
    for path in sorted((ALERTS_DIR / scenario).glob("*.yaml"))
    if path.name != "values.yaml"
]
ALERTS = {
    "MCPServerRestartLoop": "critical",
    "MCPServerHighErrorRate": "critical",
    "MCPServerHighLatency": "warning",
    "MCPServerHighCPU": "warning",
    "MCPServerHighMemory": "warning",
    "MCPServerUnavailable": "critical",
}
# The gateway's PrometheusRule has one more.
GATEWAY_ALERTS = {"MCPGatewayUpstreamDown": "warning"}
DEFAULTS = ALERTS_DIR / "defaults"
GATEWAY = ALERTS_DIR / "gateway"
# The promtool tests of each alert at the default thresholds.
UNIT_TEST_FILES = {
    "MCPServerRestartLoop": "restart-loop.yaml",
    "MCPServerHighErrorRate": "error-rate.yaml",
    "MCPServerHighLatency": "latency.yaml",
    "MCPServerHighCPU": "cpu.yaml",
    "MCPServerHighMemory": "memory.yaml",
    "MCPServerUnavailable": "unavailable.yaml",
}
Rules = dict[str, Any]


@pytest.fixture(scope="module", autouse=True)
def promtool() -> Path:
    """promtool from the pinned toolchain, built by the project's script when missing."""
    binary = TOOLS_BIN / "promtool"
    if not binary.exists():
        with locked("install-tools"):
            subprocess.run(
                ["bash", str(REPO_ROOT / "scripts" / "install-tools.sh"), "promtool"], check=True
            )
    return binary


def rules(scenario: str, set_json: tuple[str, ...] = ()) -> Rules:
    """The rule groups of the scenario's PrometheusRule, as a promtool rule file holds them."""
    result = render((ALERTS_DIR / scenario / "values.yaml",), set_json=set_json)
    (rule,) = result.all("PrometheusRule")
    # A copy: renders are cached for the session, and MUTATIONS change what they get.
    return {"groups": copy.deepcopy(rule["spec"]["groups"])}


def run_unit_tests(directory: Path, rule_file: Rules, tmp_path: Path, *names: str) -> str:
    """Runs promtool's tests NAMES of DIRECTORY on RULE_FILE; fails with promtool's report."""
    for name in names:
        shutil.copy(directory / name, tmp_path / name)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_file, sort_keys=False))
    result = tool("promtool", "test", "rules", *names, cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    return report


def unit_test_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("*.yaml") if path.name != "values.yaml")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_promtool_checks_the_rendered_rules(scenario: str, tmp_path: Path):
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump(rules(scenario), sort_keys=False))
    result = tool("promtool", "check", "rules", "--lint=all", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr
    # A server parked by its values (replicas: 0) has no MCPServerUnavailable.
    gateway = scenario.startswith("gateway")
    expected = len(ALERTS) + len(GATEWAY_ALERTS) * gateway - (scenario == "parked")
    assert f"SUCCESS: {expected} rules found" in result.stdout


@pytest.mark.parametrize(("scenario", "name"), UNIT_TESTS, ids=["/".join(t) for t in UNIT_TESTS])
def test_alerts_fire_and_resolve(scenario: str, name: str, tmp_path: Path):
    report = run_unit_tests(ALERTS_DIR / scenario, rules(scenario), tmp_path, name)
    assert "SUCCESS" in report


def test_six_alerts_with_their_severity():
    (group,) = rules("defaults")["groups"]
    assert group["name"] == "todo-mcp"
    assert {rule["alert"]: rule["labels"]["severity"] for rule in group["rules"]} == ALERTS
    durations = {rule["alert"]: rule.get("for") for rule in group["rules"]}
    assert durations == {
        "MCPServerRestartLoop": None,
        "MCPServerHighErrorRate": "5m",
        "MCPServerHighLatency": "5m",
        "MCPServerHighCPU": "15m",
        "MCPServerHighMemory": "10m",
        "MCPServerUnavailable": "5m",
    }
    for rule in group["rules"]:
        assert rule["labels"] == {
            "severity": ALERTS[rule["alert"]],
            "namespace": "mcp",
            "service": "todo-mcp",
        }
        assert set(rule["annotations"]) == {"summary", "description"}
        assert "MCP server todo " in rule["annotations"]["summary"]
        assert "Runbook: " in rule["annotations"]["description"]


def test_the_gateway_has_one_alert_more_about_its_upstreams():
    (group,) = rules("gateway")["groups"]
    assert group["name"] == "gateway-mcp"
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in group["rules"]}
    assert severities == {**ALERTS, **GATEWAY_ALERTS}
    (upstream,) = [r for r in group["rules"] if r["alert"] == "MCPGatewayUpstreamDown"]
    assert upstream["for"] == "5m"
    assert upstream["labels"] == {
        "severity": "warning",
        "namespace": "mcp",
        "service": "gateway-mcp",
    }
    # Without the ServiceMonitor nothing scrapes mcp_gateway_upstream_up: no rule that never fires.
    (group,) = rules("gateway", ("gateway.server.metrics.serviceMonitor.enabled=false",))["groups"]
    assert "MCPGatewayUpstreamDown" not in {rule["alert"] for rule in group["rules"]}


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        # Any replica that does not reach the upstream would fire it.
        ("expr", "max by", "min by"),
        ("for", "5m", "4m"),
        ("for", "5m", "6m"),
    ],
    ids=["any-replica", "for-4m", "for-6m"],
)
def test_a_broken_gateway_rule_fails_its_tests(field: str, old: str, new: str, tmp_path: Path):
    rule_file = rules("gateway")
    (rule,) = [r for r in rule_file["groups"][0]["rules"] if r["alert"] == "MCPGatewayUpstreamDown"]
    assert old in rule[field], rule[field]
    rule[field] = rule[field].replace(old, new)
    shutil.copy(GATEWAY / "upstream-down.yaml", tmp_path / "upstream-down.yaml")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_file, sort_keys=False))
    result = tool("promtool", "test", "rules", "upstream-down.yaml", cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert "alertname: MCPGatewayUpstreamDown, time: " in report


def test_a_server_parked_by_its_values_has_no_unavailable_alert():
    """With `replicas: 0` and no autoscaler no pod runs by design: the alert would fire forever."""
    (group,) = rules("parked")["groups"]
    assert {rule["alert"] for rule in group["rules"]} == set(ALERTS) - {"MCPServerUnavailable"}
    # An autoscaler runs at least minReplicas pods, whatever `replicas` says.
    (group,) = rules("parked", ("servers.todo.autoscaling.enabled=true",))["groups"]
    assert {rule["alert"] for rule in group["rules"]} == set(ALERTS)


def test_each_alert_is_seen_firing_and_quiet_in_its_file():
    """At the default thresholds each alert's file expects it at one evaluation and not another."""
    assert sorted(UNIT_TEST_FILES.values()) == unit_test_files(DEFAULTS)
    for alert, name in UNIT_TEST_FILES.items():
        cases = [
            case
            for group in yaml.safe_load((DEFAULTS / name).read_text())["tests"]
            for case in group["alert_rule_test"]
        ]
        assert {case["alertname"] for case in cases} == {alert}, name
        assert any(case["exp_alerts"] for case in cases), name
        assert any(not case["exp_alerts"] for case in cases), name


def test_a_long_fullname_still_matches_its_pods():
    """Past 46 characters the API server cuts a pod's generated name to 58 and adds 5."""
    fullname = "a" * 50 + "-mcp"
    (group,) = rules("defaults", (f'servers.todo.fullnameOverride="{fullname}"',))["groups"]
    restart = next(rule for rule in group["rules"] if rule["alert"] == "MCPServerRestartLoop")
    assert f'pod=~"{fullname}[-a-z0-9]{{5,9}}"' in restart["expr"]


# Prometheus' duration grammar, as its CRDs' Duration (without its "0") and model.ParseDuration.
PROMETHEUS_DURATION = (
    "^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$"
)
THRESHOLD = "servers.todo.metrics.prometheusRule."
TODO_PODS = 'namespace="mcp", pod=~"todo-mcp-[a-z0-9]{1,10}-[a-z0-9]{5}"'
RESTARTS = "kube_pod_container_status_restarts_total"
RESTART_DELTA = (
    f"max_over_time({RESTARTS}{{{TODO_PODS}}}[5m])\n"
    f"  - min_over_time({RESTARTS}{{{TODO_PODS}}}[5m])"
)
UP_TERM = 'absent(up{namespace="mcp", service="todo-mcp", endpoint="metrics"} == 1)\nor\n'
AVAILABLE = 'kube_deployment_status_replicas_available{namespace="mcp", deployment="todo-mcp"}'


def moved(key: str, value: str, alert: str) -> Any:
    """Values that move ALERT's threshold (or `for:`) to where its tests must notice."""
    return pytest.param(alert, (f"{THRESHOLD}{key}={value}",), None, "", id=f"{key}={value}")


def edited(name: str, alert: str, field: str, old: str, new: str) -> Any:
    """ALERT's rendered FIELD (`expr` or `for`) with OLD replaced by NEW."""
    return pytest.param(alert, (), field, (old, new), id=name)


MUTATIONS = [
    moved("restartThreshold", "2", "MCPServerRestartLoop"),
    moved("restartThreshold", "4", "MCPServerRestartLoop"),
    edited(
        "restarts-by-increase",
        "MCPServerRestartLoop",
        "expr",
        RESTART_DELTA,
        f"increase({RESTARTS}{{{TODO_PODS}}}[5m])",
    ),
    edited(
        "restarts-of-sidecars-unseen",
        "MCPServerRestartLoop",
        "expr",
        "kube_pod_init_container_status_restarts_total",
        RESTARTS,
    ),
    moved("errorRateThreshold", "0.04", "MCPServerHighErrorRate"),
    moved("errorRateThreshold", "0.06", "MCPServerHighErrorRate"),
    edited("errors-for-4m", "MCPServerHighErrorRate", "for", "5m", "4m"),
    edited("errors-for-6m", "MCPServerHighErrorRate", "for", "5m", "6m"),
    edited(
        "errors-of-tool-calls-only",
        "MCPServerHighErrorRate",
        "expr",
        "mcp_server_operation_duration_seconds_count",
        "mcp_tool_calls_total",
    ),
    moved("latencyP95Seconds", "0.4", "MCPServerHighLatency"),
    moved("latencyP95Seconds", "0.75", "MCPServerHighLatency"),
    edited("p95-for-4m", "MCPServerHighLatency", "for", "5m", "4m"),
    edited("p95-for-6m", "MCPServerHighLatency", "for", "5m", "6m"),
    moved("cpuUsageThreshold", "0.9", "MCPServerHighCPU"),
    edited("cpu-for-8m", "MCPServerHighCPU", "for", "15m", "8m"),
    edited("cpu-for-16m", "MCPServerHighCPU", "for", "15m", "16m"),
    edited(
        "cpu-of-the-limit-only",
        "MCPServerHighCPU",
        "expr",
        "kube_pod_container_resource_requests",
        "kube_pod_container_resource_limits",
    ),
    moved("memoryUsageThreshold", "0.94", "MCPServerHighMemory"),
    edited("memory-for-8m", "MCPServerHighMemory", "for", "10m", "8m"),
    edited("memory-for-11m", "MCPServerHighMemory", "for", "10m", "11m"),
    moved("unavailableFor", '"4m"', "MCPServerUnavailable"),
    moved("unavailableFor", '"6m"', "MCPServerUnavailable"),
    edited("unavailable-without-up", "MCPServerUnavailable", "expr", UP_TERM, ""),
    edited(
        "unavailable-by-up-0",
        "MCPServerUnavailable",
        "expr",
        UP_TERM,
        'max(up{namespace="mcp", service="todo-mcp"}) == 0\nor\n',
    ),
    edited(
        "unavailable-by-scrape-only",
        "MCPServerUnavailable",
        "expr",
        f"\nor\nmax({AVAILABLE}) == 0",
        "",
    ),
]


@pytest.mark.parametrize(("alert", "set_json", "field", "edit"), MUTATIONS)
def test_a_broken_rule_fails_its_tests(
    alert: str, set_json: tuple[str, ...], field: str | None, edit: tuple[str, str], tmp_path: Path
):
    rule_file = rules("defaults", set_json)
    if field:
        (rule,) = [r for r in rule_file["groups"][0]["rules"] if r["alert"] == alert]
        old, new = edit
        assert old in rule[field], rule[field]
        rule[field] = rule[field].replace(old, new)
    name = UNIT_TEST_FILES[alert]
    shutil.copy(DEFAULTS / name, tmp_path / name)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_file, sort_keys=False))
    result = tool("promtool", "test", "rules", name, cwd=tmp_path)
    report = result.stdout + result.stderr
    assert result.returncode == 1, report
    assert f"alertname: {alert}, time: " in report


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("cpuUsageThreshold", "1.5", "maximum: got 1.5, want 1"),
        # A share of failed calls, or of the memory limit, is at most 1: above 1 never fires.
        ("errorRateThreshold", "1", "exclusiveMaximum: got 1, want 1"),
        ("memoryUsageThreshold", "1", "exclusiveMaximum: got 1, want 1"),
        # The histogram's highest bucket is 30 s: a p95 beyond it reads as 30, never above.
        ("latencyP95Seconds", "30", "exclusiveMaximum: got 30, want 30"),
        ("memoryUsageThreshold", "0", "exclusiveMinimum: got 0, want 0"),
        (
            "unavailableFor",
            '"5 minutes"',
            f"'5 minutes' does not match pattern '{PROMETHEUS_DURATION}'",
        ),
        # Prometheus (and the PrometheusRule CRD) take the units largest first, each once.
        ("unavailableFor", '"5m1h"', f"'5m1h' does not match pattern '{PROMETHEUS_DURATION}'"),
        (
            "runbookUrl",
            '"runbooks.example.com"',
            "'runbooks.example.com' does not match pattern '^$|^https?://'",
        ),
    ],
)
def test_the_schema_names_a_bad_threshold(key: str, value: str, message: str):
    error = render_error(
        (DEFAULTS / "values.yaml",), (f"servers.todo.metrics.prometheusRule.{key}={value}",)
    )
    assert f"at '/servers/todo/metrics/prometheusRule/{key}': {message}" in error
