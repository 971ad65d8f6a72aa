"""`gateway.enabled`: one more server whose upstreams are the release's other servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from crd_schemas import CRD_SCHEMAS
from helm_render import (
    KUBERNETES_VERSIONS,
    NAMESPACE,
    RELEASE,
    VALUES_DIR,
    kubeconform,
    notes,
    render,
    render_error,
)

TODO = (VALUES_DIR / "todo.yaml",)
TWO = (VALUES_DIR / "todo.yaml", VALUES_DIR / "greeter-code.yaml")
ON = "gateway.enabled=true"


CHART = Path(__file__).resolve().parents[2] / "charts" / "mcp-servers"
# How the gateway calls an upstream unless told otherwise (gateway.upstream's defaults).
POLICY = {
    "timeout_seconds": 60,
    "connect_retries": 3,
    "max_concurrent_calls": 0,
    "circuit_breaker": {"failures": 5, "open_seconds": 30},
}


def url(fullname: str, port: int) -> str:
    return f"http://{fullname}.{NAMESPACE}.svc.cluster.local:{port}/mcp"


def gateway_upstreams(*set_json: str, values_files: tuple[Path, ...] = TWO) -> dict[str, object]:
    result = render(values_files, set_json=(ON, *set_json))
    config = result.get("ConfigMap", "gateway-mcp")["data"]
    return json.loads(config["MCP_GATEWAY_SERVERS"])


def test_off_by_default() -> None:
    assert "gateway-mcp" not in render(TWO).names("Deployment")


def test_renders_one_more_server_of_the_gateway_image() -> None:
    result = render(TWO, set_json=(ON,))
    for kind in ("Deployment", "Service", "ConfigMap", "NetworkPolicy"):
        assert "gateway-mcp" in result.names(kind), kind
    deployment = result.get("Deployment", "gateway-mcp")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("localhost/mcp-servers/gateway:")
    assert result.get("Service", "gateway-mcp")["spec"]["ports"][0]["port"] == 8020


def test_lists_every_enabled_server_with_its_service_url() -> None:
    assert gateway_upstreams() == {
        "greeter": {"url": url("greeter-mcp", 8000), **POLICY},
        "todo": {"url": url("todo-mcp", 8001), **POLICY},
    }


def test_follows_a_fullname_override_and_skips_disabled_servers() -> None:
    upstreams = gateway_upstreams(
        'servers.todo.fullnameOverride="tasks"', "servers.greeter.enabled=false"
    )
    assert upstreams == {"todo": {"url": url("tasks", 8001), **POLICY}}


def test_per_server_include_and_exclude() -> None:
    upstreams = gateway_upstreams(
        'gateway.servers.todo={"include":["list_tasks","create_task"]}',
        'gateway.servers.greeter={"exclude":["greet"]}',
    )
    assert upstreams["todo"] == {
        "url": url("todo-mcp", 8001),
        "include": ["list_tasks", "create_task"],
        **POLICY,
    }
    assert upstreams["greeter"] == {
        "url": url("greeter-mcp", 8000),
        "exclude": ["greet"],
        **POLICY,
    }


def test_timeouts_retries_and_circuits_for_every_server_and_for_one() -> None:
    upstreams = gateway_upstreams(
        'gateway.upstream={"timeoutSeconds":120,"circuitBreaker":{"openSeconds":10}}',
        'gateway.servers.todo={"timeoutSeconds":2.5,"connectRetries":0,'
        '"maxConcurrentCalls":20,"circuitBreaker":{"failures":0}}',
    )
    assert upstreams["greeter"] == {
        "url": url("greeter-mcp", 8000),
        "timeout_seconds": 120,
        "connect_retries": 3,
        "max_concurrent_calls": 0,
        "circuit_breaker": {"failures": 5, "open_seconds": 10},
    }
    assert upstreams["todo"] == {
        "url": url("todo-mcp", 8001),
        "timeout_seconds": 2.5,
        "connect_retries": 0,
        "max_concurrent_calls": 20,
        "circuit_breaker": {"failures": 0, "open_seconds": 10},
    }


def test_the_charts_upstream_defaults_and_bounds_are_the_gateways() -> None:
    """values.yaml and the schema repeat the gateway's own defaults and limits (so that
    helm-docs and editors show them, and a bad value fails at install): they must agree."""
    from mcp_gateway.settings import CircuitBreaker, Upstream

    values = yaml.safe_load((CHART / "values.yaml").read_text())["gateway"]["upstream"]
    schema = json.loads((CHART / "values.schema.json").read_text())
    keys = schema["definitions"]["gatewayUpstream"]["properties"]
    breaker = keys["circuitBreaker"]["properties"]
    # chart key, its default, its schema, the gateway's field
    pairs = [
        (key, values[key], keys[key], Upstream, field)
        for key, field in [
            ("timeoutSeconds", "timeout_seconds"),
            ("connectRetries", "connect_retries"),
            ("maxConcurrentCalls", "max_concurrent_calls"),
        ]
    ] + [
        (key, values["circuitBreaker"][key], breaker[key], CircuitBreaker, field)
        for key, field in [("failures", "failures"), ("openSeconds", "open_seconds")]
    ]
    bounds = ("minimum", "exclusiveMinimum", "maximum")
    for key, default, chart_schema, model, field in pairs:
        python = model.model_json_schema()["properties"][field]
        assert default == python["default"], key
        assert {b: chart_schema[b] for b in bounds if b in chart_schema} == {
            b: python[b] for b in bounds if b in python
        }, key


def test_its_own_settings_merge_over_the_defaults() -> None:
    result = render(
        TWO, set_json=(ON, "gateway.server.replicas=2", 'gateway.server.logLevel="debug"')
    )
    assert result.get("Deployment", "gateway-mcp")["spec"]["replicas"] == 2
    assert result.get("ConfigMap", "gateway-mcp")["data"]["LOG_LEVEL"] == "debug"


def test_the_gateway_runs_one_worker_whatever_the_defaults_say() -> None:
    # mcp-gateway refuses MCP_WORKERS > 1: its circuit breakers and listings are per process.
    result = render(TWO, set_json=(ON, "defaults.workers=2", "servers.greeter.stateless=true"))
    assert result.get("ConfigMap", "gateway-mcp")["data"]["MCP_WORKERS"] == "1"
    assert result.get("ConfigMap", "todo-mcp")["data"]["MCP_WORKERS"] == "2"


def test_network_policies_let_the_gateway_reach_each_server() -> None:
    result = render(TWO, set_json=(ON,))
    gateway_pods = {"app.kubernetes.io/name": "gateway", "app.kubernetes.io/instance": RELEASE}
    for name, port in [("todo", 8001), ("greeter", 8000)]:
        policy = result.get("NetworkPolicy", f"{name}-mcp")
        peers = policy["spec"]["ingress"][0]["from"]
        assert {"podSelector": {"matchLabels": gateway_pods}} in peers
        egress = result.get("NetworkPolicy", "gateway-mcp")["spec"]["egress"]
        server_pods = {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": RELEASE}
        assert {
            "to": [{"podSelector": {"matchLabels": server_pods}}],
            "ports": [{"port": port, "protocol": "TCP"}],
        } in egress


def test_the_gateway_keeps_the_defaults_egress_rules_unless_it_sets_its_own() -> None:
    proxy = {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 3128}]}
    fleet_rule = f"defaults.networkPolicy.egress={json.dumps([proxy])}"
    result = render(TWO, set_json=(ON, fleet_rule))
    # greeter sets no egress of its own (todo's values file does: its database).
    for fullname in ("greeter-mcp", "gateway-mcp"):
        egress = result.get("NetworkPolicy", fullname)["spec"]["egress"]
        assert egress[-1]["to"] == proxy["to"], fullname
    # Its own list replaces the defaults', as a server's does; the upstreams stay.
    own = render(TWO, set_json=(ON, fleet_rule, "gateway.server.networkPolicy.egress=[]"))
    egress = own.get("NetworkPolicy", "gateway-mcp")["spec"]["egress"]
    assert proxy["to"] not in [rule.get("to") for rule in egress]
    assert len(egress) == 3  # DNS and the two servers


def test_notes_offer_the_gateway_as_the_one_entry(tmp_path: Path) -> None:
    on = tmp_path / "gateway-on.yaml"
    on.write_text("gateway: {enabled: true}\n")
    text = notes((*TWO, on))
    assert "or just `gateway`" in text
    assert f"claude mcp add --transport http gateway {url('gateway-mcp', 8020)}" in text


@pytest.mark.parametrize(
    ("values_files", "set_json", "message"),
    [
        (
            TODO,
            (ON, 'servers.gateway={"image":{"repository":"x/y"}}'),
            "gateway.enabled: servers.gateway is enabled too, and the gateway's objects would"
            " take its names; rename that server or disable it",
        ),
        (
            (),
            (ON,),
            "gateway.enabled: no server is enabled for the gateway to serve; add entries under"
            " servers",
        ),
        (
            TWO,
            (ON, 'gateway.servers.memory={"include":["recall"]}'),
            "gateway.servers.memory: not an enabled server of this release (enabled: greeter,"
            " todo)",
        ),
        (
            TWO,
            (ON, 'gateway.servers.todo={"include":["a","b"],"exclude":["b"]}'),
            "gateway.servers.todo: include and exclude both name b",
        ),
        (
            TWO,
            (ON, 'gateway.server.env={"MCP_GATEWAY_SERVERS":"{}"}'),
            "gateway.server.env.MCP_GATEWAY_SERVERS: set by the chart from the enabled servers"
            " and gateway.servers; remove it",
        ),
        (TWO, (ON, 'gateway.server.port="x"'), "at '/gateway/server/port': got string"),
        (TWO, (ON, 'gateway.servers.todo={"only":["a"]}'), "additional properties 'only'"),
        (
            TWO,
            (ON, 'gateway.servers.todo={"timeoutSeconds":"1m"}'),
            "at '/gateway/servers/todo/timeoutSeconds': got string, want number",
        ),
        (
            TWO,
            (ON, 'gateway.upstream={"timeoutSeconds":0}'),
            "at '/gateway/upstream/timeoutSeconds': exclusiveMinimum: got 0, want 0",
        ),
        (
            TWO,
            (ON, 'gateway.servers.todo={"connectRetries":11}'),
            "at '/gateway/servers/todo/connectRetries': maximum: got 11, want 10",
        ),
        (
            TWO,
            (ON, 'gateway.servers.todo={"connectRetries":1.5}'),
            "at '/gateway/servers/todo/connectRetries': got number, want integer",
        ),
        (
            TWO,
            (ON, 'gateway.servers.todo={"maxConcurrentCalls":-5}'),
            "at '/gateway/servers/todo/maxConcurrentCalls': minimum: got -5, want 0",
        ),
        (
            TWO,
            (ON, 'gateway.upstream={"circuitBreaker":{"failures":-1}}'),
            "at '/gateway/upstream/circuitBreaker/failures': minimum: got -1, want 0",
        ),
        (
            TWO,
            (ON, 'gateway.servers.todo={"circuitBreaker":{"resetSeconds":5}}'),
            "at '/gateway/servers/todo/circuitBreaker': additional properties 'resetSeconds'",
        ),
        (
            TWO,
            (ON, "gateway.server.workers=2"),
            "gateway.server.workers: the gateway serves from one process (each upstream's"
            " circuit breaker and last listing live in it); scale it with"
            " gateway.server.replicas or gateway.server.autoscaling",
        ),
        (
            TWO,
            (ON, "gateway.server.stateless=false", "gateway.server.replicas=2"),
            "gateway.server.replicas: a stateful server (stateless: false) cannot run more than"
            " 1 replica; its MCP sessions live in one pod. Set gateway.server.stateless: true or"
            " replicas: 1",
        ),
    ],
)
def test_bad_gateway_values_fail_naming_the_key(
    values_files: tuple[Path, ...], set_json: tuple[str, ...], message: str
) -> None:
    assert message in render_error(values_files, set_json)


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_the_render_passes_kubeconform(version: str, tmp_path: Path) -> None:
    rendered = tmp_path / "gateway.yaml"
    rendered.write_text(render(TWO, set_json=(ON, 'gateway.servers.todo={"exclude":["x"]}')).text)
    report = kubeconform(version, rendered, skip=tuple(CRD_SCHEMAS))
    problems = [
        r for r in report["resources"] if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert problems == []
