"""What the chart renders for the values files in values/ and for the optional features."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.client_configs import client_configs
from harness.server_registry import IMAGE_NAMESPACE, LOCAL_REGISTRY
from helm_render import (
    CHART,
    NAMESPACE,
    PREBUILT_VALUES,
    RELEASE,
    VALUES_DIR,
    VALUES_FILES,
    Render,
    fleet_values,
    notes,
    render,
    render_error,
)

TODO = (VALUES_DIR / "todo.yaml",)
GREETER = (VALUES_DIR / "greeter-code.yaml",)
EVERYTHING = (VALUES_DIR / "everything.yaml",)
PREBUILT = (PREBUILT_VALUES,)
FLEET_SERVERS = {
    name for path in VALUES_FILES for name in yaml.safe_load(path.read_text())["servers"]
}
STANDARD_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
}


def pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (server,) = pod_spec(deployment)["containers"]
    return server


def config_env(result: Render, fullname: str) -> dict[str, str]:
    return result.get("ConfigMap", fullname)["data"]


def pod_annotations(result: Render, fullname: str) -> dict[str, str]:
    return result.get("Deployment", fullname)["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("values_file", VALUES_FILES, ids=lambda path: path.name)
def test_each_values_file_renders_one_server(values_file: Path):
    (name,) = yaml.safe_load(values_file.read_text())["servers"]
    result = render((values_file,))
    for kind in ("Deployment", "Service", "ConfigMap", "ServiceAccount", "NetworkPolicy"):
        assert f"{name}-mcp" in result.names(kind), kind
    assert len(result.all("Deployment")) == 1


def test_values_files_compose_into_one_release(fleet: Render):
    assert {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in fleet.all("Deployment")} == (
        FLEET_SERVERS
    )
    # postgres has a ServiceMonitor, which scrapes its metrics Service.
    assert fleet.names("Service") == {f"{name}-mcp" for name in FLEET_SERVERS} | {
        "postgres-mcp-metrics"
    }


def test_restricted_security_on_every_pod(fleet: Render):
    for deployment in fleet.all("Deployment"):
        spec = pod_spec(deployment)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 1000
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        context = container(deployment)["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes[mounts["/tmp"]]["emptyDir"] == {}
    for account in fleet.all("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_allow_privileged_lets_a_root_image_run_as_root():
    root = {"runAsUser": 0, "runAsNonRoot": False}
    writable = root | {"readOnlyRootFilesystem": False}
    result = render(
        TODO,
        set_json=(
            f"servers.todo.securityContext={json.dumps(writable)}",
            f"servers.todo.podSecurityContext={json.dumps(root)}",
            "servers.todo.allowPrivileged=true",
        ),
    )
    deployment = result.get("Deployment", "todo-mcp")
    assert pod_spec(deployment)["securityContext"]["runAsUser"] == 0
    context = container(deployment)["securityContext"]
    assert (context["runAsUser"], context["runAsNonRoot"]) == (0, False)
    # Only what the server asked for: the rest of the restricted profile stays.
    assert (context["privileged"], context["capabilities"]) == (False, {"drop": ["ALL"]})


def test_probes_and_a_startup_window_of_at_least_40_seconds(fleet: Render):
    for deployment in fleet.all("Deployment"):
        server = container(deployment)
        startup = server["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 40
        assert server["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert server["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert startup["httpGet"]["path"] == "/health"


def test_a_server_probe_handler_replaces_the_default_one():
    server = container(render(PREBUILT).get("Deployment", "weather-mcp"))
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert server[probe]["tcpSocket"] == {"port": "http"}
        assert "httpGet" not in server[probe]
    assert server["livenessProbe"]["periodSeconds"] == 10


def test_rollout_and_drain(fleet: Render):
    one_writer = {
        claim["metadata"]["name"]
        for claim in fleet.all("PersistentVolumeClaim")
        if {"ReadWriteOnce", "ReadWriteOncePod"} & set(claim["spec"]["accessModes"])
    }
    for deployment in fleet.all("Deployment"):
        volumes = pod_spec(deployment)["volumes"]
        if any(v.get("persistentVolumeClaim", {}).get("claimName") in one_writer for v in volumes):
            # A ReadWriteOnce claim has one writer (test_chart_persistence.py).
            assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        else:
            assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        spec = pod_spec(deployment)
        sleep = container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
        assert sleep[0] == "sleep"
        drain = int(config_env(fleet, deployment["metadata"]["name"])["MCP_DRAIN_TIMEOUT_SECONDS"])
        # The runtime needs up to about 5 s after the drain to close connections and stop.
        assert spec["terminationGracePeriodSeconds"] >= int(sleep[1]) + drain + 5


def test_grace_period_may_equal_prestop_plus_drain_plus_five():
    result = render(TODO, set_json=("servers.todo.terminationGracePeriodSeconds=30",))
    assert pod_spec(result.get("Deployment", "todo-mcp"))["terminationGracePeriodSeconds"] == 30
    error = render_error(TODO, ("servers.todo.terminationGracePeriodSeconds=29",))
    assert (
        "servers.todo.terminationGracePeriodSeconds: 29 is too short; it must be at least 30"
        in (error)
    )


def test_todo_resources_autoscaler_and_disruption_budget(fleet: Render):
    deployment = fleet.get("Deployment", "todo-mcp")
    assert container(deployment)["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert "replicas" not in deployment["spec"]
    hpa = fleet.get("HorizontalPodAutoscaler", "todo-mcp")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "todo-mcp",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    # The server container's CPU, whatever sidecars run beside it.
    assert hpa["spec"]["metrics"] == [
        {
            "type": "ContainerResource",
            "containerResource": {
                "name": "cpu",
                "container": "server",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    assert fleet.get("PodDisruptionBudget", "todo-mcp")["spec"]["maxUnavailable"] == 1


def test_memory_target_joins_the_autoscaler():
    result = render(
        TODO, set_json=("servers.todo.autoscaling.targetMemoryUtilizationPercentage=80",)
    )
    metrics = result.get("HorizontalPodAutoscaler", "todo-mcp")["spec"]["metrics"]
    assert [m["containerResource"]["name"] for m in metrics] == ["cpu", "memory"]


def test_the_pod_scope_measures_every_container_against_the_pods_requests():
    result = render(
        TODO,
        set_json=(
            'servers.todo.autoscaling.scope="pod"',
            "servers.todo.autoscaling.targetMemoryUtilizationPercentage=80",
        ),
    )
    metrics = result.get("HorizontalPodAutoscaler", "todo-mcp")["spec"]["metrics"]
    assert [(m["type"], m["resource"]["name"]) for m in metrics] == [
        ("Resource", "cpu"),
        ("Resource", "memory"),
    ]


def test_more_metrics_follow_the_targets_as_given():
    in_flight = {
        "type": "Pods",
        "pods": {
            "metric": {"name": "mcp_tool_calls_in_flight"},
            "target": {"type": "AverageValue", "averageValue": "8"},
        },
    }
    queue = {
        "type": "External",
        "external": {
            "metric": {"name": "queue_depth", "selector": {"matchLabels": {"queue": "mcp"}}},
            "target": {"type": "Value", "value": "100"},
        },
    }
    result = render(
        TODO, set_json=(f"servers.todo.autoscaling.metrics={json.dumps([in_flight, queue])}",)
    )
    metrics = result.get("HorizontalPodAutoscaler", "todo-mcp")["spec"]["metrics"]
    assert metrics[1:] == [in_flight, queue]
    # A metric of its own is enough: no CPU target needed.
    alone = render(
        TODO,
        set_json=(
            "servers.todo.autoscaling.targetCPUUtilizationPercentage=0",
            f"servers.todo.autoscaling.metrics={json.dumps([in_flight])}",
        ),
    )
    assert alone.get("HorizontalPodAutoscaler", "todo-mcp")["spec"]["metrics"] == [in_flight]


def test_autoscaler_behavior_passes_through(fleet: Render):
    assert "behavior" not in fleet.get("HorizontalPodAutoscaler", "todo-mcp")["spec"]
    policy = {"type": "Pods", "value": 2, "periodSeconds": 15}
    behavior = {
        "scaleUp": {"stabilizationWindowSeconds": 0, "policies": [policy]},
        "scaleDown": {"stabilizationWindowSeconds": 20, "selectPolicy": "Max"},
    }
    result = render(TODO, set_json=(f"servers.todo.autoscaling.behavior={json.dumps(behavior)}",))
    assert result.get("HorizontalPodAutoscaler", "todo-mcp")["spec"]["behavior"] == behavior


def test_disruption_budget_only_when_more_than_one_replica_can_run(fleet: Render):
    assert fleet.names("PodDisruptionBudget") == {"todo-mcp", "postgres-mcp"}
    for budget in fleet.all("PodDisruptionBudget"):
        # An unready pod serves nothing; keeping it would block node drains while it stays so.
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    kept = render(
        TODO,
        set_json=('servers.todo.podDisruptionBudget.unhealthyPodEvictionPolicy="IfHealthyBudget"',),
    ).get("PodDisruptionBudget", "todo-mcp")
    assert kept["spec"]["unhealthyPodEvictionPolicy"] == "IfHealthyBudget"
    assert fleet.get("Deployment", "postgres-mcp")["spec"]["replicas"] == 2
    assert fleet.get("Deployment", "greeter-mcp")["spec"]["replicas"] == 1


def test_runtime_env_and_dns_rebinding_hosts(fleet: Render):
    env = config_env(fleet, "todo-mcp")
    assert env["MCP_TRANSPORT"] == "streamable-http"
    assert env["MCP_HOST"] == "0.0.0.0"
    assert env["MCP_PORT"] == "8001"
    assert env["MCP_METRICS_PORT"] == "9464"
    assert env["MCP_STATELESS"] == "true"
    assert env["MCP_SERVER_CONFIG"] == "/etc/mcp/server-config.json"
    assert env["MCP_ALLOWED_HOSTS"].split(",") == [
        "todo-mcp",
        f"todo-mcp.{NAMESPACE}",
        f"todo-mcp.{NAMESPACE}.svc",
        f"todo-mcp.{NAMESPACE}.svc.cluster.local",
    ]
    server = container(fleet.get("Deployment", "todo-mcp"))
    assert server["envFrom"] == [{"secretRef": {"name": "todo-mcp"}}]
    assert server["ports"] == [
        {"name": "http", "containerPort": 8001, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9464, "protocol": "TCP"},
    ]


def test_session_limits_and_request_size_reach_the_runtime(fleet: Render):
    for fullname in ("everything-mcp", "todo-mcp"):
        env = config_env(fleet, fullname)
        assert env["MCP_MAX_SESSIONS"] == "500"
        assert env["MCP_SESSION_IDLE_TIMEOUT_SECONDS"] == "1800"
        assert env["MCP_MAX_REQUEST_BYTES"] == "4194304"
        assert env["MCP_WORKERS"] == "1"
    custom = render(
        EVERYTHING,
        set_json=(
            'servers.everything.sessions={"max":20,"idleTimeoutSeconds":300}',
            "servers.everything.maxRequestBytes=16777216",
        ),
    )
    env = config_env(custom, "everything-mcp")
    assert (
        env["MCP_MAX_SESSIONS"],
        env["MCP_SESSION_IDLE_TIMEOUT_SECONDS"],
        env["MCP_MAX_REQUEST_BYTES"],
    ) == ("20", "300", "16777216")
    workers = render(TODO, set_json=("servers.todo.workers=4",))
    assert config_env(workers, "todo-mcp")["MCP_WORKERS"] == "4"


def test_env_comes_key_by_key_from_the_config_map(fleet: Render):
    # envFrom would hand the server-config.json key to the kubelet as a variable name too.
    for deployment in fleet.all("Deployment"):
        fullname = deployment["metadata"]["name"]
        server = container(deployment)
        assert all("configMapRef" not in source for source in server.get("envFrom", []))
        from_config = {
            item["name"]: item["valueFrom"]["configMapKeyRef"]
            for item in server["env"]
            if "configMapKeyRef" in item.get("valueFrom", {})
        }
        data = config_env(fleet, fullname)
        assert set(from_config) == set(data) - {"server-config.json"}
        assert all(ref == {"name": fullname, "key": name} for name, ref in from_config.items())


def test_server_config_json(fleet: Render):
    config = json.loads(config_env(fleet, "postgres-mcp")["server-config.json"])
    assert config["name"] == "postgres"
    assert config["version"] == "0.1.0"
    assert config["port"] == 8002
    assert config["description"].startswith("Read-only SQL")
    assert config["tools"] == []
    extra = render(TODO, set_json=('servers.todo.config={"tools":["add_todo"],"pageSize":50}',))
    config = json.loads(config_env(extra, "todo-mcp")["server-config.json"])
    assert (config["tools"], config["pageSize"], config["name"]) == (["add_todo"], 50, "todo")


@pytest.mark.parametrize(
    ("change", "changes_config", "changes_secret"),
    [
        ('servers.todo.config={"pageSize":10}', True, False),
        ('servers.todo.env={"FEATURE":"on"}', True, False),
        ('servers.todo.logLevel="debug"', True, False),
        ('servers.todo.secrets=[{"name":"DATABASE_URL","remoteRef":"other"}]', False, True),
        ('servers.todo.existingSecret="extra"', False, True),
        ("servers.todo.replicas=1", False, False),
    ],
)
def test_checksums_roll_pods_on_config_and_secret_changes(change, changes_config, changes_secret):
    before = pod_annotations(render(TODO), "todo-mcp")
    after = pod_annotations(render(TODO, set_json=(change,)), "todo-mcp")
    assert (before["checksum/config"] != after["checksum/config"]) is changes_config
    assert (before["checksum/secret"] != after["checksum/secret"]) is changes_secret


def test_inline_code_change_rolls_pods():
    before = pod_annotations(render(GREETER), "greeter-mcp")
    after = pod_annotations(
        render(GREETER, set_json=('servers.greeter.code={"server.py":"# v2"}',)), "greeter-mcp"
    )
    assert before["checksum/config"] != after["checksum/config"]


def test_network_policy(fleet: Render):
    policy = fleet.get("NetworkPolicy", "todo-mcp")["spec"]
    assert policy["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "todo",
        "app.kubernetes.io/instance": RELEASE,
    }
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "mcp-servers"}}}
    ]
    assert ingress["ports"] == [{"port": 8001, "protocol": "TCP"}]
    dns, database = policy["egress"]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert database["ports"] == [{"port": 5432, "protocol": "TCP"}]
    switched_off = render(TODO, set_json=("servers.todo.networkPolicy.enabled=false",))
    assert switched_off.names("NetworkPolicy") == set()


def test_network_policy_admits_configured_clients():
    backend = {"podSelector": {"matchLabels": {"app": "backend"}}}
    result = render(
        TODO, set_json=(f"servers.todo.networkPolicy.ingressFrom=[{json.dumps(backend)}]",)
    )
    (ingress,) = result.get("NetworkPolicy", "todo-mcp")["spec"]["ingress"]
    assert ingress["from"][1] == backend


PROMETHEUS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}


def test_network_policy_admits_prometheus_when_a_service_monitor_scrapes(fleet: Render):
    tier, scraper = fleet.get("NetworkPolicy", "postgres-mcp")["spec"]["ingress"]
    assert tier["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/part-of": "mcp-servers"
    }
    assert scraper == {"from": [PROMETHEUS], "ports": [{"port": 9464, "protocol": "TCP"}]}
    own = {"namespaceSelector": {"matchLabels": {"team": "observability"}}}
    custom = render(
        TODO,
        set_json=(
            "servers.todo.metrics.serviceMonitor.enabled=true",
            f"servers.todo.networkPolicy.metricsFrom=[{json.dumps(own)}]",
        ),
    )
    _, scraper = custom.get("NetworkPolicy", "todo-mcp")["spec"]["ingress"]
    assert scraper["from"] == [own]


@pytest.mark.parametrize(
    "change",
    [
        "servers.todo.metrics.serviceMonitor.enabled=false",
        "servers.todo.networkPolicy.metricsFrom=[]",
    ],
)
def test_network_policy_admits_no_scraper_without_a_service_monitor_or_peers(change: str):
    result = render(TODO, set_json=("servers.todo.metrics.serviceMonitor.enabled=true", change))
    (ingress,) = result.get("NetworkPolicy", "todo-mcp")["spec"]["ingress"]
    assert PROMETHEUS not in ingress["from"]


def test_external_secret_v1_with_cluster_store(fleet: Render):
    secret = fleet.get("ExternalSecret", "todo-mcp")
    assert secret["apiVersion"] == "external-secrets.io/v1"
    assert secret["spec"]["secretStoreRef"] == {
        "kind": "ClusterSecretStore",
        "name": "platform-secrets",
    }
    assert secret["spec"]["refreshInterval"] == "1h"
    assert secret["spec"]["target"] == {"name": "todo-mcp", "creationPolicy": "Owner"}
    assert secret["spec"]["data"] == [
        {"secretKey": "DATABASE_URL", "remoteRef": {"key": "mcp-todo", "property": "database-url"}}
    ]
    assert "greeter-mcp" not in fleet.names("ExternalSecret")


def test_external_secret_v1beta1_and_existing_secret(features: Render):
    secret = features.get("ExternalSecret", "rel-alpha")
    assert secret["apiVersion"] == "external-secrets.io/v1beta1"
    assert secret["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "team-secrets"}
    assert secret["spec"]["data"] == [
        {"secretKey": "MCP_AUTH_TOKEN", "remoteRef": {"key": "mcp/alpha/token"}}
    ]
    env_from = container(features.get("Deployment", "rel-alpha"))["envFrom"]
    assert env_from == [
        {"secretRef": {"name": "rel-alpha"}},
        {"secretRef": {"name": "alpha-extra"}},
    ]


def test_monitoring_only_when_enabled(fleet: Render):
    assert fleet.names("ServiceMonitor") == {"postgres-mcp"}
    assert fleet.names("PrometheusRule") == {"postgres-mcp"}
    monitor = fleet.get("ServiceMonitor", "postgres-mcp")["spec"]
    assert monitor["endpoints"] == [
        {
            "port": "metrics",
            "path": "/metrics",
            "interval": "30s",
            "scrapeTimeout": "10s",
            # The server's name, not its metrics Service's, is what the alerts select.
            "relabelings": [
                {"targetLabel": "service", "replacement": "postgres-mcp"},
                {"targetLabel": "job", "replacement": "postgres-mcp"},
            ],
        }
    ]
    assert monitor["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    # It selects the metrics Service alone: a ClusterIP one with the metrics port, which the
    # server's own Service (the one an Ingress or a NodePort publishes) does not have.
    metrics = fleet.get("Service", "postgres-mcp-metrics")
    selected = [
        service["metadata"]["name"]
        for service in fleet.all("Service")
        if monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    ]
    assert selected == ["postgres-mcp-metrics"]
    assert metrics["spec"]["type"] == "ClusterIP"
    assert metrics["spec"]["ports"] == [
        {
            "name": "metrics",
            "port": 9464,
            "targetPort": "metrics",
            "protocol": "TCP",
            "appProtocol": "http",
        }
    ]
    assert [port["name"] for port in fleet.get("Service", "postgres-mcp")["spec"]["ports"]] == [
        "http"
    ]
    assert render(TODO).names("ServiceMonitor") == set()


def test_prometheus_rule_has_the_six_alerts(fleet: Render):
    """The expressions' behaviour is promtool's to test: test_chart_alerts.py."""
    (group,) = fleet.get("PrometheusRule", "postgres-mcp")["spec"]["groups"]
    rules = {rule["alert"]: rule for rule in group["rules"]}
    assert set(rules) == {
        "MCPServerRestartLoop",
        "MCPServerHighErrorRate",
        "MCPServerHighLatency",
        "MCPServerHighCPU",
        "MCPServerHighMemory",
        "MCPServerUnavailable",
    }
    restart = rules["MCPServerRestartLoop"]["expr"]
    assert "kube_pod_container_status_restarts_total" in restart
    assert "[5m]" in restart and restart.endswith("> 3")
    errors = rules["MCPServerHighErrorRate"]["expr"]
    assert 'outcome="error"' in errors and "mcp_tool_calls_total" in errors
    assert errors.endswith("> 0.05")
    latency = rules["MCPServerHighLatency"]["expr"]
    assert latency.startswith("histogram_quantile(0.95,")
    assert "mcp_tool_call_duration_seconds_bucket" in latency and latency.endswith("> 0.5")
    for rule in rules.values():
        assert 'service="postgres-mcp"' in rule["expr"] or 'pod=~"postgres-mcp-' in rule["expr"]
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_services(fleet: Render, features: Render):
    for service in fleet.all("Service"):
        assert service["spec"]["type"] == "ClusterIP"
        assert service["spec"]["sessionAffinity"] == "None"
    alpha = features.get("Service", "rel-alpha")["spec"]
    assert alpha["type"] == "NodePort"
    assert alpha["ports"] == [
        {
            "name": "http",
            "port": 8001,
            "targetPort": "http",
            "protocol": "TCP",
            "appProtocol": "http",
            "nodePort": 30801,
        }
    ]


def test_names_fullname_override_and_truncation(features: Render):
    assert features.names("Deployment") == {"rel-alpha", "beta-mcp", "gamma-mcp"}
    # 62 characters + "-mcp" cut at 63 ends in "-", which must go too.
    long_name = "a" * 62
    server = {"image": {"repository": "x"}, "code": {"server.py": ""}}
    result = render(set_json=(f"servers={json.dumps({long_name: server})}",))
    fullname = long_name
    assert result.names("Deployment") == {fullname}
    assert result.names("Service") == {fullname}
    assert f"{fullname}-code" in result.names("ConfigMap")


def test_labels_and_stable_selectors(fleet: Render):
    for obj in fleet.objects:
        labels = obj["metadata"]["labels"]
        assert STANDARD_LABELS - {"app.kubernetes.io/name"} <= set(labels), obj["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "mcp-servers-0.1.0"
        assert labels["app.kubernetes.io/part-of"] == "mcp-servers"
    for deployment in fleet.all("Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
        assert set(deployment["metadata"]["labels"]) >= STANDARD_LABELS
        assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "mcp-server"
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= template_labels.items()
        service = fleet.get("Service", deployment["metadata"]["name"])
        assert service["spec"]["selector"] == selector


def test_common_labels_and_registry(features: Render):
    for obj in features.objects:
        assert obj["metadata"]["labels"]["team"] == "platform"
    image = container(features.get("Deployment", "rel-alpha"))["image"]
    assert image == (
        "registry.example.com/mcp-servers/todo@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    spec = pod_spec(features.get("Deployment", "beta-mcp"))
    assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert container(features.get("Deployment", "beta-mcp"))["image"] == (
        "registry.example.com/mcp-servers/memory:0.1.0"
    )


def test_common_annotations_on_every_object_but_never_over_its_own(features: Render):
    for obj in features.objects:
        assert obj["metadata"]["annotations"]["example.com/owner"] == "platform", obj["kind"]
    # Pod templates take podAnnotations, not the objects' annotations.
    template = features.get("Deployment", "rel-alpha")["spec"]["template"]["metadata"]
    assert "example.com/owner" not in template.get("annotations", {})
    # The test pods keep their hook annotations.
    test_pods = [obj for obj in features.objects if obj["kind"] == "Pod"]
    assert test_pods
    assert all(pod["metadata"]["annotations"]["helm.sh/hook"] == "test" for pod in test_pods)
    own = render(
        TODO,
        set_json=(
            'global.commonAnnotations={"example.com/owner":"platform"}',
            'servers.todo.service.annotations={"example.com/owner":"todo-team"}',
        ),
    )
    assert own.get("Service", "todo-mcp")["metadata"]["annotations"] == {
        "example.com/owner": "todo-team"
    }
    assert own.get("Deployment", "todo-mcp")["metadata"]["annotations"] == {
        "example.com/owner": "platform"
    }


def test_gpu_and_cpu_variants_of_memory():
    gpu = render((VALUES_DIR / "memory.yaml",)).get("Deployment", "memory-mcp")
    assert container(gpu)["resources"]["limits"] == {
        "cpu": "2",
        "memory": "8Gi",
        "nvidia.com/gpu": 1,
    }
    assert container(gpu)["resources"]["requests"]["memory"] == "4Gi"
    assert pod_spec(gpu)["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod_spec(gpu)["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    cpu_render = render((VALUES_DIR / "memory-cpu.yaml",))
    cpu = cpu_render.get("Deployment", "memory-mcp")
    assert "nvidia.com/gpu" not in container(cpu)["resources"]["limits"]
    assert "nodeSelector" not in pod_spec(cpu)
    assert "tolerations" not in pod_spec(cpu)
    assert config_env(cpu_render, "memory-mcp")["MEMORY_DEVICE"] == "cpu"


def test_inline_code_pattern(fleet: Render):
    deployment = fleet.get("Deployment", "greeter-mcp")
    assert container(deployment)["image"] == "localhost/mcp-servers/runtime:0.1.0"
    mounts = {m["name"]: m for m in container(deployment)["volumeMounts"]}
    assert mounts["code"] == {"name": "code", "mountPath": "/opt/mcp/code", "readOnly": True}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    assert volumes["code"]["configMap"]["name"] == "greeter-mcp-code"
    assert "def greet" in fleet.get("ConfigMap", "greeter-mcp-code")["data"]["server.py"]
    assert config_env(fleet, "greeter-mcp")["MCP_CODE_FILE"] == "/opt/mcp/code/server.py"


def test_prebuilt_third_party_image():
    prebuilt = render(PREBUILT)
    deployment = prebuilt.get("Deployment", "weather-mcp")
    server = container(deployment)
    assert server["image"] == "ghcr.io/acme/weather-mcp:1.4.2"
    assert (server["command"], server["args"]) == (
        ["node", "dist/server.js"],
        ["--transport", "streamable-http"],
    )
    env = config_env(prebuilt, "weather-mcp")
    assert (env["PORT"], env["HOME"], env["MCP_STATELESS"]) == ("3001", "/tmp", "false")
    assert deployment["spec"]["replicas"] == 1
    # Without a drain window there is nothing to wait for after the preStop pause.
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] == 15


def images(node: Any) -> list[str]:
    """Every container image in NODE (a render's objects: Deployments, test pods, Jobs)."""
    if isinstance(node, list):
        return [image for item in node for image in images(item)]
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        if key in ("containers", "initContainers"):
            found += [container["image"] for container in value]
        else:
            found += images(value)
    return found


def test_by_default_every_image_is_on_the_node_never_a_public_namespace(fleet: Render):
    """Short names (`mcp-servers/todo`) get the default registry, `localhost`: the images the
    project builds, never a Docker Hub namespace someone else may own."""
    found = images(list(fleet.objects))
    assert len(found) > 10
    assert [i for i in found if not i.startswith("localhost/mcp-servers/")] == []


def test_the_chart_and_the_image_build_name_our_images_alike():
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["global"]["imageRegistry"] == LOCAL_REGISTRY
    for path in VALUES_FILES:
        for name, server in yaml.safe_load(path.read_text())["servers"].items():
            repository = server.get("image", {}).get("repository")
            if repository:
                assert repository == f"{IMAGE_NAMESPACE}/{name}", path.name


def test_a_registry_goes_before_short_names_and_a_named_registry_stays():
    result = render(
        (*TODO, *PREBUILT), set_args=("global.imageRegistry=registry.example.com/team",)
    )
    assert container(result.get("Deployment", "todo-mcp"))["image"] == (
        "registry.example.com/team/mcp-servers/todo:0.1.0"
    )
    assert container(result.get("Deployment", "weather-mcp"))["image"] == (
        "ghcr.io/acme/weather-mcp:1.4.2"
    )


TODO_DIGEST = "sha256:" + "1" * 64
RUNTIME_DIGEST = "sha256:" + "2" * 64
OWN_DIGEST = "sha256:" + "3" * 64


def test_image_digests_pin_the_images_of_a_release_by_repository():
    """What `make release` writes: a registry and a digest per repository it pushed."""
    digests = {"mcp-servers/todo": TODO_DIGEST, "mcp-servers/runtime": RUNTIME_DIGEST}
    result = render(
        (*TODO, *GREETER),
        set_args=("global.imageRegistry=127.0.0.1:55050",),
        set_json=(f"global.imageDigests={json.dumps(digests)}",),
    )
    assert (
        container(result.get("Deployment", "todo-mcp"))["image"]
        == f"127.0.0.1:55050/mcp-servers/todo@{TODO_DIGEST}"
    )
    # The code pattern runs the runtime image; the helm test pods run it too.
    assert (
        container(result.get("Deployment", "greeter-mcp"))["image"]
        == f"127.0.0.1:55050/mcp-servers/runtime@{RUNTIME_DIGEST}"
    )
    (smoke,) = result.get("Pod", "todo-mcp-test")["spec"]["containers"]
    assert smoke["image"] == f"127.0.0.1:55050/mcp-servers/runtime@{RUNTIME_DIGEST}"


def test_a_servers_own_digest_wins_over_image_digests_and_others_keep_their_tags():
    result = render(
        (*TODO, *PREBUILT),
        set_args=(f"servers.todo.image.digest={OWN_DIGEST}",),
        set_json=(f'global.imageDigests={{"mcp-servers/todo": "{TODO_DIGEST}"}}',),
    )
    assert container(result.get("Deployment", "todo-mcp"))["image"] == (
        f"localhost/mcp-servers/todo@{OWN_DIGEST}"
    )
    assert container(result.get("Deployment", "weather-mcp"))["image"] == (
        "ghcr.io/acme/weather-mcp:1.4.2"
    )


def test_a_catalog_entry_runs_its_image_entrypoint_the_bridge(fleet: Render):
    server = container(fleet.get("Deployment", "everything-mcp"))
    assert server["image"] == "localhost/mcp-servers/everything:2026.8.31"
    # The image's entrypoint is mcp-bridge, and its MCP_BRIDGE_COMMAND runs the package.
    assert "command" not in server and "args" not in server
    assert server["startupProbe"]["httpGet"]["path"] == "/health"


def test_value_from_env_goes_on_the_container(features: Render):
    server = container(features.get("Deployment", "rel-alpha"))
    assert server["env"][-1] == {
        "name": "POD_NAME",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    }
    assert config_env(features, "rel-alpha")["MCP_ALLOWED_ORIGINS"] == "https://chat.example.com"


def test_env_numbers_are_written_as_typed():
    result = render(TODO, set_json=('servers.todo.env={"MAX_ROWS":1000000,"RATIO":0.5,"ON":true}',))
    env = config_env(result, "todo-mcp")
    assert (env["MAX_ROWS"], env["RATIO"], env["ON"]) == ("1000000", "0.5", "true")


def test_helm_test_pod_gets_the_auth_token_when_the_server_has_one(features: Render):
    (call,) = features.get("Pod", "rel-alpha-test")["spec"]["containers"]
    token = {e["name"]: e for e in call["env"]}["MCP_AUTH_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {
        "name": "rel-alpha",
        "key": "MCP_AUTH_TOKEN",
        "optional": True,
    }
    existing = render(TODO, set_json=('servers.todo.existingSecret="todo-auth"',))
    (call,) = existing.get("Pod", "todo-mcp-test")["spec"]["containers"]
    token = {e["name"]: e for e in call["env"]}["MCP_AUTH_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == "todo-auth"


def test_defaults_deep_merge_under_every_server():
    result = render(
        (*TODO, *GREETER),
        set_json=(
            'defaults.logLevel="debug"',
            "defaults.networkPolicy.enabled=false",
            "servers.greeter.networkPolicy.enabled=true",
            'defaults.nodeSelector={"pool":"mcp"}',
        ),
    )
    assert config_env(result, "todo-mcp")["LOG_LEVEL"] == "debug"
    assert config_env(result, "greeter-mcp")["LOG_LEVEL"] == "debug"
    assert result.names("NetworkPolicy") == {"greeter-mcp"}
    assert pod_spec(result.get("Deployment", "todo-mcp"))["nodeSelector"] == {"pool": "mcp"}
    # A server's own map keys merge with the defaults' instead of replacing them.
    assert container(result.get("Deployment", "todo-mcp"))["livenessProbe"]["periodSeconds"] == 10


def test_a_server_can_be_switched_off():
    result = render((*TODO, *GREETER), set_json=("servers.todo.enabled=false",))
    assert result.names("Deployment") == {"greeter-mcp"}
    assert "todo-mcp" not in result.names("ExternalSecret")


def test_helm_test_pod_calls_the_server_through_its_service(fleet: Render):
    pod = fleet.get("Pod", "postgres-mcp-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (call,) = pod["spec"]["containers"]
    assert call["command"] == ["python3", "-c"]
    assert call["args"] == [(CHART / "files" / "mcp-smoke.py").read_text()]
    env = {e["name"]: e for e in call["env"]}
    assert env["MCP_URL"]["value"] == f"http://postgres-mcp.{NAMESPACE}.svc.cluster.local:8002/mcp"
    assert "MCP_AUTH_TOKEN" not in env
    assert call["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["restartPolicy"] == "Never"
    service_selector = fleet.get("Service", "postgres-mcp")["spec"]["selector"]
    assert not service_selector.items() <= pod["metadata"]["labels"].items()
    assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mcp-servers"
    greeter = {
        e["name"]: e.get("value")
        for e in fleet.get("Pod", "greeter-mcp-test")["spec"]["containers"][0]["env"]
    }
    assert (greeter["MCP_TEST_TOOL"], json.loads(greeter["MCP_TEST_ARGUMENTS"])) == (
        "greet",
        {"name": "helm"},
    )


def test_notes_print_urls_and_a_mcp_json():
    text = notes(VALUES_FILES)
    for name, port in [("todo", 8001), ("postgres", 8002), ("memory", 8003), ("greeter", 8000)]:
        assert f"http://{name}-mcp.{NAMESPACE}.svc.cluster.local:{port}/mcp" in text
    urls = {
        name: f"http://{name}-mcp.{NAMESPACE}.svc.cluster.local:{port}/mcp"
        for name, port in [("todo", 8001), ("postgres", 8002), ("memory", 8003)]
    }
    configs = json_blocks(text)
    # The generator of `make up` and `make demo` prints the same shapes from the same URLs.
    assert configs == [
        client_configs.claude_code(all_urls(configs[0])),
        client_configs.vscode(all_urls(configs[0])),
        client_configs.cursor(all_urls(configs[0])),
    ]
    assert set(configs[0]["mcpServers"]) == FLEET_SERVERS
    for name, url in urls.items():
        assert configs[0]["mcpServers"][name] == {"type": "http", "url": url}
    assert "\n".join(client_configs.claude_cli(all_urls(configs[0]))) in text
    assert "kubectl -n mcp port-forward svc/todo-mcp 8001" in text


def json_blocks(text: str) -> list[Any]:
    """Every JSON document in `text`, in order."""
    decoder = json.JSONDecoder()
    blocks, start = [], text.find("{")
    while start != -1:
        block, end = decoder.raw_decode(text, start)
        blocks.append(block)
        start = text.find("{", end)
    return blocks


def all_urls(claude_code: dict[str, Any]) -> dict[str, str]:
    return {name: entry["url"] for name, entry in claude_code["mcpServers"].items()}


def test_notes_without_servers_say_what_to_do():
    assert "No MCP server is enabled" in notes(())


def test_fifty_servers_render():
    result = render(set_json=(f"servers={json.dumps(fleet_values(50)['servers'])}",))
    assert len(result.all("Deployment")) == 50
    # A metrics Service beside each server's that a ServiceMonitor scrapes.
    assert len(result.names("Service")) == 50 + len(result.names("ServiceMonitor"))


def test_topology_spread_gets_the_server_selector(fleet: Render):
    (constraint,) = pod_spec(fleet.get("Deployment", "todo-mcp"))["topologySpreadConstraints"]
    assert constraint["labelSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "todo", "app.kubernetes.io/instance": RELEASE}
    }
    assert constraint["topologyKey"] == "kubernetes.io/hostname"
