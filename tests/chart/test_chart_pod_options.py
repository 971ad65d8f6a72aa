"""What a platform team adds to a server's pod: native sidecars and init containers, a
sandboxed runtime class, host aliases and DNS settings, and how a rollout replaces pods. The
refusals are in test_chart_bad_values.py; tests/chart/features-values.yaml carries each option,
so kubeconform, checkov and `ct lint` check them too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helm_render import RELEASE, VALUES_DIR, Render, render

TODO = (VALUES_DIR / "todo.yaml",)
GREETER = (VALUES_DIR / "greeter-code.yaml",)
PROXY = {
    "image": {"repository": "gcr.io/cloud-sql-connectors/cloud-sql-proxy", "tag": "2.14.0"},
    "args": ["--port=5432", "acme:europe-west1:todo"],
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    "securityContext": {"runAsUser": 65532},
    "startupProbe": {"tcpSocket": {"port": 5432}},
}
MIGRATE = {
    "image": {"repository": "mcp-servers/todo", "tag": "0.1.0"},
    "command": ["python", "-c", "print('migrated')"],
    "env": [{"name": "STEP", "value": "migrate"}],
    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
}


def pod_spec(result: Render, fullname: str = "todo-mcp") -> dict[str, Any]:
    return result.get("Deployment", fullname)["spec"]["template"]["spec"]


def with_todo(*set_json: str) -> Render:
    return render(TODO, set_json=set_json)


def test_no_extra_containers_or_pod_options_by_default(fleet: Render):
    for deployment in fleet.all("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        assert "initContainers" not in spec
        assert [container["name"] for container in spec["containers"]] == ["server"]
        for option in ("runtimeClassName", "hostAliases", "dnsPolicy", "dnsConfig"):
            assert option not in spec, option
        assert deployment["spec"]["revisionHistoryLimit"] == 5
        assert "minReadySeconds" not in deployment["spec"]


def test_sidecars_start_first_and_keep_running_then_init_containers_run_in_order():
    result = with_todo(
        f"servers.todo.sidecars={json.dumps({'proxy': PROXY, 'agent': PROXY})}",
        f"servers.todo.initContainers={json.dumps({'migrate': MIGRATE, 'check': MIGRATE})}",
    )
    spec = pod_spec(result)
    # Sidecars, then init containers, each in identifier order; only sidecars restart.
    assert [(c["name"], c.get("restartPolicy")) for c in spec["initContainers"]] == [
        ("agent", "Always"),
        ("proxy", "Always"),
        ("check", None),
        ("migrate", None),
    ]
    assert [container["name"] for container in spec["containers"]] == ["server"]
    proxy = spec["initContainers"][1]
    # A repository naming its registry is used as is; the tag is the entry's own.
    assert proxy["image"] == "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.0"
    assert proxy["imagePullPolicy"] == "IfNotPresent"
    assert proxy["args"] == PROXY["args"]
    assert proxy["resources"] == PROXY["resources"]
    assert proxy["startupProbe"] == PROXY["startupProbe"]
    migrate = spec["initContainers"][3]
    # Like the server's, a repository without a registry gets global.imageRegistry.
    assert migrate["image"] == "localhost/mcp-servers/todo:0.1.0"
    assert migrate["command"] == MIGRATE["command"]
    assert migrate["env"] == MIGRATE["env"]
    assert migrate["volumeMounts"] == MIGRATE["volumeMounts"]
    assert "startupProbe" not in migrate


def test_an_extra_container_runs_as_restricted_as_the_server_unless_it_says_otherwise():
    result = with_todo(
        f"servers.todo.sidecars={json.dumps({'proxy': PROXY})}",
        f"servers.todo.initContainers={json.dumps({'migrate': MIGRATE})}",
    )
    spec = pod_spec(result)
    server_context = spec["containers"][0]["securityContext"]
    proxy, migrate = spec["initContainers"]
    assert migrate["securityContext"] == server_context
    assert proxy["securityContext"] == {**server_context, "runAsUser": 65532}
    assert server_context["readOnlyRootFilesystem"] is True
    assert server_context["capabilities"] == {"drop": ["ALL"]}


def test_an_extra_container_may_mount_a_persistence_volume_and_gets_no_server_env():
    result = with_todo(
        'servers.todo.persistence={"ca":{"type":"configMap","name":"ca","mountPath":"/etc/ca"}}',
        "servers.todo.initContainers="
        + json.dumps({"fetch": {**MIGRATE, "volumeMounts": [{"name": "ca", "mountPath": "/ca"}]}}),
    )
    (fetch,) = pod_spec(result)["initContainers"]
    assert fetch["volumeMounts"] == [{"name": "ca", "mountPath": "/ca"}]
    # Only what the entry gives: the server's ConfigMap, Secrets and keys stay the server's.
    assert fetch["env"] == MIGRATE["env"]
    assert "envFrom" not in fetch


def test_defaults_give_every_server_a_sidecar_and_a_server_can_leave_it_out():
    agent = {
        "image": {"repository": "fluent/fluent-bit", "tag": "3.2"},
        "resources": {"requests": {"cpu": "10m"}},
    }
    result = render(
        TODO + GREETER,
        set_json=(
            f"defaults.sidecars={json.dumps({'logs': agent})}",
            'servers.greeter.sidecars={"logs":{"enabled":false}}',
        ),
    )
    assert [c["name"] for c in pod_spec(result)["initContainers"]] == ["logs"]
    assert "initContainers" not in pod_spec(result, "greeter-mcp")


def test_the_gateway_takes_extra_containers_and_pod_options_from_its_values():
    result = render(
        TODO,
        set_json=(
            "gateway.enabled=true",
            f"gateway.server={json.dumps({'sidecars': {'proxy': PROXY}})}",
            'gateway.server.runtimeClassName="gvisor"',
        ),
    )
    spec = pod_spec(result, "gateway-mcp")
    assert [c["name"] for c in spec["initContainers"]] == ["proxy"]
    assert spec["runtimeClassName"] == "gvisor"


def test_runtime_class_host_aliases_and_dns_reach_the_pod():
    aliases = [{"ip": "10.0.0.10", "hostnames": ["legacy.internal"]}]
    dns = {"nameservers": ["10.0.0.53"], "options": [{"name": "ndots", "value": "2"}]}
    result = with_todo(
        'servers.todo.runtimeClassName="gvisor"',
        f"servers.todo.hostAliases={json.dumps(aliases)}",
        'servers.todo.dnsPolicy="None"',
        f"servers.todo.dnsConfig={json.dumps(dns)}",
    )
    spec = pod_spec(result)
    assert spec["runtimeClassName"] == "gvisor"
    assert spec["hostAliases"] == aliases
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"] == dns
    # The pods ask only that name server, so the NetworkPolicy lets DNS out to it, not kube-dns.
    (dns_rule, *_) = result.get("NetworkPolicy", "todo-mcp")["spec"]["egress"]
    assert dns_rule["to"] == [{"ipBlock": {"cidr": "10.0.0.53/32"}}]
    assert {(p["port"], p["protocol"]) for p in dns_rule["ports"]} == {(53, "UDP"), (53, "TCP")}


def test_name_servers_beside_kube_dns_are_admitted_too():
    dns = {"nameservers": ["10.0.0.53", "fd00::53"]}
    result = with_todo(f"servers.todo.dnsConfig={json.dumps(dns)}")
    (dns_rule, *_) = result.get("NetworkPolicy", "todo-mcp")["spec"]["egress"]
    assert dns_rule["to"] == [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}},
        {"ipBlock": {"cidr": "10.0.0.53/32"}},
        {"ipBlock": {"cidr": "fd00::53/128"}},
    ]


def test_a_servers_env_entry_and_sidecar_probe_replace_the_defaults(tmp_path: Path):
    """Merged, the two `valueFrom` sources or probe handlers would be one object Kubernetes
    refuses; the server's own entry replaces the default's whole."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        json.dumps(
            {
                "defaults": {
                    "env": {"API_KEY": {"valueFrom": {"secretKeyRef": {"name": "k", "key": "a"}}}},
                    "sidecars": {"proxy": PROXY},
                },
                "servers": {
                    "todo": {
                        "env": {
                            "API_KEY": {"valueFrom": {"configMapKeyRef": {"name": "c", "key": "a"}}}
                        },
                        "sidecars": {
                            "proxy": {"startupProbe": {"httpGet": {"path": "/ready", "port": 9090}}}
                        },
                    }
                },
            }
        )
    )
    result = render((*TODO, *GREETER, fleet))
    todo = pod_spec(result)
    (server,) = todo["containers"]
    (key,) = [e for e in server["env"] if e["name"] == "API_KEY"]
    assert key["valueFrom"] == {"configMapKeyRef": {"name": "c", "key": "a"}}
    (proxy,) = todo["initContainers"]
    assert proxy["startupProbe"] == {"httpGet": {"path": "/ready", "port": 9090}}
    # A server that sets neither keeps the defaults'.
    greeter = pod_spec(result, "greeter-mcp")
    (key,) = [e for e in greeter["containers"][0]["env"] if e["name"] == "API_KEY"]
    assert key["valueFrom"] == {"secretKeyRef": {"name": "k", "key": "a"}}
    assert greeter["initContainers"][0]["startupProbe"] == {"tcpSocket": {"port": 5432}}


def test_the_rollout_takes_its_pace_from_the_values():
    result = with_todo(
        'servers.todo.rollingUpdate={"maxSurge":"25%","maxUnavailable":1}',
        "servers.todo.minReadySeconds=10",
        "servers.todo.revisionHistoryLimit=2",
    )
    deployment = result.get("Deployment", "todo-mcp")["spec"]
    assert deployment["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
    }
    assert deployment["minReadySeconds"] == 10
    assert deployment["revisionHistoryLimit"] == 2


def test_a_single_writer_claim_keeps_recreate_whatever_the_rolling_update_says():
    result = render(
        GREETER,
        set_json=(
            'servers.greeter.persistence={"data":{"type":"persistentVolumeClaim","mountPath":"/d"}}',
            'servers.greeter.rollingUpdate={"maxSurge":3}',
        ),
    )
    assert result.get("Deployment", "greeter-mcp")["spec"]["strategy"] == {"type": "Recreate"}


def test_features_carry_every_pod_option(features: Render):
    deployment = features.get("Deployment", f"{RELEASE}-alpha")["spec"]
    spec = deployment["template"]["spec"]
    assert [(c["name"], c.get("restartPolicy")) for c in spec["initContainers"]] == [
        ("proxy", "Always"),
        ("migrate", None),
    ]
    # A digest pins the init container's image, under global.imageRegistry.
    assert spec["initContainers"][1]["image"].startswith(
        "registry.example.com/mcp-servers/todo@sha256:"
    )
    assert spec["runtimeClassName"] == "gvisor"
    assert deployment["minReadySeconds"] == 10
    assert deployment["revisionHistoryLimit"] == 3
    beta = features.get("Deployment", "beta-mcp")["spec"]["strategy"]
    assert beta["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 1}


def test_the_service_account_token_is_mounted_only_when_asked(fleet: Render):
    for deployment in fleet.all("Deployment"):
        assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    result = with_todo("servers.todo.serviceAccount.automountToken=true")
    assert pod_spec(result)["automountServiceAccountToken"] is True
    # The pod asks for it; the ServiceAccount itself still mounts nothing into other pods.
    account = result.get("ServiceAccount", "todo-mcp")
    assert account["automountServiceAccountToken"] is False


def test_a_volume_kept_out_of_the_server_is_mounted_only_where_a_container_asks():
    """A proxy's credentials: in the pod for the sidecar, not readable by the server."""
    proxy = {**PROXY, "volumeMounts": [{"name": "creds", "mountPath": "/creds", "readOnly": True}]}
    result = with_todo(
        'servers.todo.persistence={"creds":{"type":"secret","name":"proxy-key",'
        '"mountInServer":false}}',
        f"servers.todo.sidecars={json.dumps({'proxy': proxy})}",
    )
    spec = pod_spec(result)
    assert {"name": "creds", "secret": {"secretName": "proxy-key"}} in spec["volumes"]
    (server,) = spec["containers"]
    assert "creds" not in [mount["name"] for mount in server["volumeMounts"]]
    (sidecar,) = spec["initContainers"]
    assert sidecar["volumeMounts"] == proxy["volumeMounts"]


def test_the_commented_cloud_sql_proxy_of_values_postgres_renders(tmp_path: Path):
    """values/postgres.yaml shows a proxy sidecar in comments; uncommented, it renders as told."""
    text = (VALUES_DIR / "postgres.yaml").read_text()
    example = text[text.index("    # sidecars:") :]
    uncommented = "\n".join(line.replace("    # ", "    ", 1) for line in example.splitlines())
    values = tmp_path / "postgres.yaml"
    values.write_text(text[: text.index("    # sidecars:")] + uncommented + "\n")
    spec = pod_spec(render((values,)), "postgres-mcp")
    (proxy,) = spec["initContainers"]
    assert proxy["name"] == "cloudsql"
    assert proxy["restartPolicy"] == "Always"
    assert proxy["volumeMounts"] == [
        {"name": "cloudsql-key", "mountPath": "/secrets", "readOnly": True}
    ]
    assert {"name": "cloudsql-key", "secret": {"secretName": "cloudsql-key"}} in spec["volumes"]
    (server,) = spec["containers"]
    assert "cloudsql-key" not in [mount["name"] for mount in server["volumeMounts"]]


EXPORTER = {
    "image": {"repository": "quay.io/prometheus/statsd-exporter", "tag": "v0.28.0"},
    "resources": {"requests": {"cpu": "10m"}},
    "ports": [{"name": "statsd", "containerPort": 9125, "protocol": "UDP"},
              {"name": "exporter", "containerPort": 9102}],
    "metrics": {"port": "exporter"},
}  # fmt: skip


def test_a_sidecars_metrics_are_scraped_with_the_servers_while_the_servicemonitor_is_on():
    sidecars = f"servers.todo.sidecars={json.dumps({'stats': EXPORTER})}"
    monitored = with_todo(sidecars, "servers.todo.metrics.serviceMonitor.enabled=true")
    # Beside the server's metrics port, on the Service the ServiceMonitor scrapes; the server's
    # own Service has its MCP port alone.
    ports = monitored.get("Service", "todo-mcp-metrics")["spec"]["ports"]
    assert [(p["name"], p["port"], p["targetPort"]) for p in ports] == [
        ("metrics", 9464, "metrics"),
        ("exporter", 9102, "exporter"),
    ]
    assert [p["name"] for p in monitored.get("Service", "todo-mcp")["spec"]["ports"]] == ["http"]
    endpoints = monitored.get("ServiceMonitor", "todo-mcp")["spec"]["endpoints"]
    assert [(e["port"], e["path"], e["interval"]) for e in endpoints] == [
        ("metrics", "/metrics", "30s"),
        ("exporter", "/metrics", "30s"),
    ]
    scraper = monitored.get("NetworkPolicy", "todo-mcp")["spec"]["ingress"][-1]
    assert scraper["ports"] == [
        {"port": 9464, "protocol": "TCP"},
        {"port": 9102, "protocol": "TCP"},
    ]
    # Only the named port: the sidecar's other ports stay closed, as without `metrics`.
    assert all(p["port"] != 9125 for p in ports + scraper["ports"])

    unmonitored = with_todo(sidecars)
    assert unmonitored.names("Service") == {"todo-mcp"}
    ingress = unmonitored.get("NetworkPolicy", "todo-mcp")["spec"]["ingress"]
    assert all(p["port"] != 9102 for rule in ingress for p in rule["ports"])


def test_a_published_service_carries_no_metrics_port():
    """A NodePort Service opens each of its ports on every node: the metrics ports, the server's
    and a sidecar's, stay on the ClusterIP metrics Service."""
    result = with_todo(
        f"servers.todo.sidecars={json.dumps({'stats': EXPORTER})}",
        "servers.todo.metrics.serviceMonitor.enabled=true",
        'servers.todo.service={"type":"NodePort","nodePort":30801}',
    )
    published = result.get("Service", "todo-mcp")["spec"]
    assert published["type"] == "NodePort"
    assert [p["name"] for p in published["ports"]] == ["http"]
    metrics = result.get("Service", "todo-mcp-metrics")["spec"]
    assert metrics["type"] == "ClusterIP"
    assert [p["name"] for p in metrics["ports"]] == ["metrics", "exporter"]


def test_a_sidecars_metrics_path_is_its_own():
    exporter = {**EXPORTER, "metrics": {"port": "exporter", "path": "/stats/prometheus"}}
    result = with_todo(
        f"servers.todo.sidecars={json.dumps({'stats': exporter})}",
        "servers.todo.metrics.serviceMonitor.enabled=true",
    )
    endpoints = result.get("ServiceMonitor", "todo-mcp")["spec"]["endpoints"]
    assert endpoints[1]["path"] == "/stats/prometheus"
