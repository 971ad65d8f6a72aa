"""`tracing`: the OTEL_* environment rendered from values (the ConfigMap's, and on the container
the pod's identity from the downward API and the OTLP headers from a Secret), inherited from
`defaults` and overridden per key by a server and the gateway; the NetworkPolicy's way out to
the collector; each refusal, naming its key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helm_render import (
    KUBERNETES_VERSIONS,
    VALUES_DIR,
    Render,
    kubeconform,
    render,
    render_error,
)

TIME = (VALUES_DIR / "time.yaml",)
TODO = (VALUES_DIR / "todo.yaml",)
TWO = (*TIME, *TODO)
COLLECTOR = "http://otel-collector.monitoring.svc.cluster.local:4317"
ON = {"enabled": True, "endpoint": COLLECTOR}
# The downward API's variables, which OTEL_RESOURCE_ATTRIBUTES refers to.
POD_FIELDS = {
    "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": "metadata.name",
    "OTEL_RESOURCE_ATTRIBUTES_POD_UID": "metadata.uid",
    "OTEL_RESOURCE_ATTRIBUTES_NAMESPACE": "metadata.namespace",
    "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "spec.nodeName",
}


def tracing(key: str, value: dict[str, Any]) -> str:
    return f"{key}.tracing={json.dumps(value)}"


def otel_config(result: Render, fullname: str) -> dict[str, str]:
    data = result.get("ConfigMap", fullname)["data"]
    return {name: value for name, value in data.items() if name.startswith("OTEL_")}


def container_env(result: Render, fullname: str) -> list[dict[str, Any]]:
    (server,) = result.get("Deployment", fullname)["spec"]["template"]["spec"]["containers"]
    return list(server["env"])


def otel_container(result: Render, fullname: str) -> dict[str, dict[str, Any]]:
    """The OTEL_* entries of the container that do not come from the ConfigMap."""
    return {
        entry["name"]: entry
        for entry in container_env(result, fullname)
        if entry["name"].startswith("OTEL_") and "configMapKeyRef" not in entry.get("valueFrom", {})
    }


def resource_attributes(result: Render, fullname: str) -> dict[str, str]:
    value = otel_container(result, fullname)["OTEL_RESOURCE_ATTRIBUTES"]["value"]
    return dict(pair.split("=", 1) for pair in value.split(","))


def egress(result: Render, fullname: str) -> list[dict[str, Any]]:
    return result.get("NetworkPolicy", fullname)["spec"]["egress"]


def test_off_by_default_sets_no_otel_variable() -> None:
    result = render(TWO)
    for fullname in ("time-mcp", "todo-mcp"):
        assert otel_config(result, fullname) == {}
        assert not [e for e in container_env(result, fullname) if e["name"].startswith("OTEL_")]
        assert {"ports": [{"port": 4317, "protocol": "TCP"}]} not in egress(result, fullname)


def test_on_sets_the_otel_variables_the_runtime_reads() -> None:
    result = render(TODO, set_json=(tracing("servers.todo", ON),))
    assert otel_config(result, "todo-mcp") == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": COLLECTOR,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "1",
        "OTEL_SERVICE_NAME": "todo",
    }
    own = otel_container(result, "todo-mcp")
    assert {
        name: own[name]["valueFrom"]["fieldRef"]["fieldPath"] for name in POD_FIELDS
    } == POD_FIELDS
    # No headers Secret named: none referenced.
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in own


def test_resource_attributes_come_from_the_pod_and_refer_only_to_earlier_variables() -> None:
    result = render(
        TODO,
        set_json=(
            tracing(
                "servers.todo",
                {**ON, "resourceAttributes": {"deployment.environment.name": "staging"}},
            ),
        ),
    )
    assert resource_attributes(result, "todo-mcp") == {
        "k8s.pod.name": "$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)",
        "k8s.pod.uid": "$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)",
        "k8s.namespace.name": "$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)",
        "k8s.node.name": "$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)",
        "k8s.deployment.name": "todo-mcp",
        "k8s.container.name": "server",
        "service.version": "0.1.0",
        "deployment.environment.name": "staging",
    }
    # Kubernetes expands $(NAME) only for variables defined before it in the list.
    names = [entry["name"] for entry in container_env(result, "todo-mcp")]
    attributes = names.index("OTEL_RESOURCE_ATTRIBUTES")
    assert all(names.index(name) < attributes for name in POD_FIELDS)
    # service.version follows the image tag when `version` is unset.
    retagged = render(
        TODO,
        set_json=(tracing("servers.todo", ON), 'servers.todo.image.tag="0.1.0-tracing"'),
    )
    assert resource_attributes(retagged, "todo-mcp")["service.version"] == "0.1.0-tracing"


def test_headers_come_from_their_secret_and_never_the_configmap() -> None:
    headers = {"existingSecret": "otlp-auth", "key": "otlp-headers"}
    result = render(TODO, set_json=(tracing("servers.todo", {**ON, "headers": headers}),))
    entry = otel_container(result, "todo-mcp")["OTEL_EXPORTER_OTLP_HEADERS"]
    assert entry["valueFrom"] == {"secretKeyRef": {"name": "otlp-auth", "key": "otlp-headers"}}
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in otel_config(result, "todo-mcp")


def test_defaults_are_inherited_and_overridden_per_key() -> None:
    result = render(
        TWO,
        set_json=(
            tracing("defaults", {**ON, "samplingRatio": 0.25}),
            'servers.time.tracing={"serviceName":"clock","samplingRatio":1}',
            'servers.todo.tracing={"endpoint":"https://collector.example.com:443"}',
        ),
    )
    time, todo = otel_config(result, "time-mcp"), otel_config(result, "todo-mcp")
    assert time["OTEL_EXPORTER_OTLP_ENDPOINT"] == COLLECTOR
    assert time["OTEL_SERVICE_NAME"] == "clock"
    assert time["OTEL_TRACES_SAMPLER_ARG"] == "1"
    assert todo["OTEL_EXPORTER_OTLP_ENDPOINT"] == "https://collector.example.com:443"
    assert todo["OTEL_SERVICE_NAME"] == "todo"
    assert todo["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    # A server can turn off what the defaults turn on.
    off = render(TWO, set_json=(tracing("defaults", ON), 'servers.time.tracing={"enabled":false}'))
    assert otel_config(off, "time-mcp") == {}
    assert otel_config(off, "todo-mcp")["OTEL_SERVICE_NAME"] == "todo"


def test_the_gateway_takes_tracing_from_defaults_and_its_own_settings() -> None:
    on = "gateway.enabled=true"
    inherited = render(TWO, set_json=(on, tracing("defaults", ON)))
    assert otel_config(inherited, "gateway-mcp")["OTEL_SERVICE_NAME"] == "gateway"
    assert resource_attributes(inherited, "gateway-mcp")["k8s.deployment.name"] == "gateway-mcp"
    own = render(TWO, set_json=(on, tracing("gateway.server", {**ON, "samplingRatio": 0.5})))
    assert otel_config(own, "gateway-mcp")["OTEL_TRACES_SAMPLER_ARG"] == "0.5"
    assert otel_config(own, "todo-mcp") == {}


def test_the_network_policy_lets_the_pods_out_to_the_collector_port_only() -> None:
    result = render(TODO, set_json=(tracing("servers.todo", ON),))
    assert {"ports": [{"port": 4317, "protocol": "TCP"}]} in egress(result, "todo-mcp")
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "tracing"}}}]
    narrowed = render(
        TODO,
        set_json=(
            tracing("servers.todo", {**ON, "endpoint": "http://[2001:db8::7]:14317/"}),
            f"servers.todo.tracing.egressTo={json.dumps(peers)}",
        ),
    )
    assert {"ports": [{"port": 14317, "protocol": "TCP"}], "to": peers} in egress(
        narrowed, "todo-mcp"
    )
    without_policy = render(
        TODO, set_json=(tracing("servers.todo", ON), "servers.todo.networkPolicy.enabled=false")
    )
    assert not without_policy.all("NetworkPolicy")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_traced_render_is_valid_kubernetes(version: str, tmp_path: Path) -> None:
    result = render(
        TWO,
        set_json=(
            tracing("defaults", {**ON, "headers": {"existingSecret": "otlp-auth"}}),
            "gateway.enabled=true",
        ),
    )
    manifest = tmp_path / "traced.yaml"
    manifest.write_text(result.text)
    # The CRD of todo's ExternalSecret has no schema here; the other tests check it.
    report = kubeconform(version, manifest, skip=("ExternalSecret",))
    assert report["summary"]["invalid"] == 0 and report["summary"]["errors"] == 0, report


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"enabled": True},
            "servers.todo.tracing.endpoint: required when servers.todo.tracing.enabled",
        ),
        (
            {**ON, "endpoint": "otel-collector:4317"},
            'servers.todo.tracing.endpoint: "otel-collector:4317" is not http(s)://HOST:PORT',
        ),
        (
            {**ON, "endpoint": "http://otel-collector.monitoring"},
            'servers.todo.tracing.endpoint: "http://otel-collector.monitoring" is not'
            " http(s)://HOST:PORT",
        ),
        (
            {**ON, "endpoint": "http://otel-collector:4318/v1/traces"},
            "the port named, no path: OTLP over gRPC takes none",
        ),
        (
            {**ON, "endpoint": "http://otel-collector:99999"},
            'servers.todo.tracing.endpoint: port 99999 of "http://otel-collector:99999" is not a'
            " TCP port",
        ),
        (
            {**ON, "protocol": "http/protobuf"},
            "servers.todo.tracing.protocol: http/protobuf is not supported: the server images"
            " export OTLP over gRPC only",
        ),
        (
            {**ON, "samplingRatio": 1.5},
            "servers.todo.tracing.samplingRatio: 1.5 is not from 0 to 1",
        ),
        (
            {**ON, "samplingRatio": -0.1},
            "servers.todo.tracing.samplingRatio: -0.1 is not from 0 to 1",
        ),
        (
            {**ON, "resourceAttributes": {"k8s.pod.name": "mine"}},
            "servers.todo.tracing.resourceAttributes.k8s.pod.name: set by the chart from the pod",
        ),
        (
            {**ON, "resourceAttributes": {"service.name": "mine"}},
            "servers.todo.tracing.resourceAttributes.service.name: OTEL_SERVICE_NAME would win"
            " over it; set servers.todo.tracing.serviceName instead",
        ),
        (
            {**ON, "resourceAttributes": {"team": "a,b"}},
            'servers.todo.tracing.resourceAttributes.team: "a,b" contains',
        ),
    ],
    ids=[
        "no-endpoint",
        "no-scheme",
        "no-port",
        "a-path",
        "bad-port",
        "http-protobuf",
        "ratio-above-1",
        "ratio-below-0",
        "chart-attribute",
        "service-name-attribute",
        "comma-in-value",
    ],
)
def test_bad_tracing_values_are_refused_naming_the_key(value: dict[str, Any], message: str) -> None:
    assert message in render_error(TODO, set_json=(tracing("servers.todo", value),))


def test_a_bad_ratio_in_defaults_is_named_where_a_server_inherits_it() -> None:
    error = render_error(TODO, set_json=(tracing("defaults", {**ON, "samplingRatio": 2}),))
    assert "servers.todo.tracing.samplingRatio: 2 is not from 0 to 1" in error


def test_a_ratio_that_is_no_number_is_refused_by_the_schema() -> None:
    error = render_error(TODO, set_json=(tracing("servers.todo", {**ON, "samplingRatio": "1"}),))
    assert "samplingRatio" in error


def test_hand_set_otel_variables_are_refused_beside_tracing() -> None:
    env = render_error(
        TODO,
        set_json=(
            tracing("servers.todo", ON),
            'servers.todo.env={"OTEL_TRACES_SAMPLER":"always_on"}',
        ),
    )
    assert (
        "servers.todo.env.OTEL_TRACES_SAMPLER: conflicts with servers.todo.tracing.enabled,"
        " from which the chart sets every OTEL_* variable"
    ) in env
    secret = render_error(
        TODO,
        set_json=(
            tracing("servers.todo", ON),
            'servers.todo.secrets=[{"name":"OTEL_EXPORTER_OTLP_HEADERS","remoteRef":"otlp"}]',
            'servers.todo.externalSecret={"secretStoreRef":{"name":"store"}}',
        ),
    )
    assert (
        "servers.todo.secrets[0].name: OTEL_EXPORTER_OTLP_HEADERS conflicts with"
        " servers.todo.tracing.enabled"
    ) in secret
    # Tracing off: the chart sets no OTEL_* variable, so a hand-set one is the user's to set.
    own = render(TODO, set_json=('servers.todo.env={"OTEL_SERVICE_NAME":"mine"}',))
    assert otel_config(own, "todo-mcp") == {"OTEL_SERVICE_NAME": "mine"}
