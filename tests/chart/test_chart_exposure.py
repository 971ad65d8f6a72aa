"""`ingress` and `httpRoute`: a server (or the gateway) reachable from outside the cluster, its
hosts allowed by its DNS-rebinding protection and its proxy admitted by its NetworkPolicy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helm_render import NAMESPACE, VALUES_DIR, Render, notes, render, render_error

TIME = (VALUES_DIR / "time.yaml",)
TWO = (VALUES_DIR / "time.yaml", VALUES_DIR / "todo.yaml")
INGRESS = {
    "enabled": True,
    "className": "traefik",
    "hosts": ["time.mcp.example.com"],
    "controllerNamespace": "ingress",
}
ROUTE = {
    "enabled": True,
    "parentRefs": [{"name": "public", "namespace": "gateways"}],
    "hostnames": ["time.gw.example.com"],
    "controllerNamespace": "gateways",
}


def exposed(key: str, **exposure: object) -> str:
    return f"servers.time.{key}={json.dumps(exposure)}"


def allowed_hosts(result: Render, fullname: str) -> list[str]:
    return result.get("ConfigMap", fullname)["data"]["MCP_ALLOWED_HOSTS"].split(",")


def admitted_namespaces(result: Render, fullname: str) -> list[str]:
    (rule, *_) = result.get("NetworkPolicy", fullname)["spec"]["ingress"]
    return [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule["from"]
        if "namespaceSelector" in peer
    ]


def backend_paths(ingress: dict) -> list[str]:
    (rule,) = ingress["spec"]["rules"]
    return [path["path"] for path in rule["http"]["paths"]]


def route_paths(route: dict) -> list[str]:
    (rule,) = route["spec"]["rules"]
    return [match["path"]["value"] for match in rule["matches"]]


def test_an_ingress_routes_the_mcp_endpoint_of_its_hosts_to_the_service() -> None:
    result = render(TIME, set_json=(exposed("ingress", **INGRESS, tlsSecretName="time-tls"),))
    ingress = result.get("Ingress", "time-mcp")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [{"hosts": ["time.mcp.example.com"], "secretName": "time-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "time.mcp.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/mcp",
            "pathType": "Prefix",
            "backend": {"service": {"name": "time-mcp", "port": {"name": "http"}}},
        }
    ]
    assert allowed_hosts(result, "time-mcp")[-1] == "time.mcp.example.com"
    assert admitted_namespaces(result, "time-mcp") == ["ingress"]


def test_an_httproute_attaches_to_its_gateways_for_its_hostnames() -> None:
    result = render(TIME, set_json=(exposed("httpRoute", **ROUTE),))
    route = result.get("HTTPRoute", "time-mcp")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["spec"]["parentRefs"] == [{"name": "public", "namespace": "gateways"}]
    assert route["spec"]["hostnames"] == ["time.gw.example.com"]
    assert route["spec"]["rules"] == [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/mcp"}}],
            "backendRefs": [{"name": "time-mcp", "port": 8010}],
        }
    ]
    assert "time.gw.example.com" in allowed_hosts(result, "time-mcp")
    assert admitted_namespaces(result, "time-mcp") == ["gateways"]
    assert not result.all("Ingress")


OAUTH = {
    "mode": "oauth",
    "oauth": {"issuer": "https://id.example.com", "jwksUri": "https://id.example.com/keys"},
}


@pytest.mark.parametrize(
    ("key", "exposure", "paths"),
    [
        ("ingress", INGRESS, backend_paths),
        ("httpRoute", ROUTE, route_paths),
    ],
    ids=["ingress", "httpRoute"],
)
def test_only_the_mcp_endpoint_its_metadata_and_extra_paths_are_routed(
    key: str, exposure: dict, paths: Callable[[dict], list[str]]
) -> None:
    kind = {"ingress": "Ingress", "httpRoute": "HTTPRoute"}[key]
    plain = render(TIME, set_json=(exposed(key, **exposure),)).get(kind, "time-mcp")
    assert paths(plain) == ["/mcp"]
    oauth = render(
        TIME, set_json=(exposed(key, **exposure), f"servers.time.auth={json.dumps(OAUTH)}")
    ).get(kind, "time-mcp")
    assert paths(oauth) == ["/mcp", "/.well-known/oauth-protected-resource"]
    extra = render(TIME, set_json=(exposed(key, **exposure, extraPaths=["/tasks", "/mcp"]),)).get(
        kind, "time-mcp"
    )
    assert paths(extra) == ["/mcp", "/tasks"]
    everything = render(TIME, set_json=(exposed(key, **exposure, extraPaths=["/"]),))
    assert paths(everything.get(kind, "time-mcp")) == ["/mcp", "/"]


def test_nothing_is_exposed_by_default() -> None:
    result = render(TWO)
    assert not result.all("Ingress") and not result.all("HTTPRoute")
    assert admitted_namespaces(result, "time-mcp") == []


def test_the_gateway_is_exposed_like_a_server() -> None:
    result = render(
        TWO,
        set_json=(
            "gateway.enabled=true",
            f"gateway.server.ingress={json.dumps({**INGRESS, 'hosts': ['mcp.example.com']})}",
        ),
    )
    assert result.names("Ingress") == {"gateway-mcp"}
    assert "mcp.example.com" in allowed_hosts(result, "gateway-mcp")
    assert admitted_namespaces(result, "gateway-mcp") == ["ingress"]


def test_notes_give_outside_clients_the_exposed_urls(tmp_path: Path) -> None:
    values = tmp_path / "exposed.yaml"
    todo_route = {**ROUTE, "hostnames": ["todo.gw.example.com"], "scheme": "http"}
    values.write_text(
        json.dumps(
            {
                "servers": {
                    "time": {"ingress": {**INGRESS, "tlsSecretName": "time-tls"}},
                    "todo": {"httpRoute": todo_route},
                }
            }
        )
    )
    text = notes((*TWO, values))
    assert "from outside:     https://time.mcp.example.com/mcp" in text
    assert "from outside:     http://todo.gw.example.com/mcp" in text
    outside = text.split("clients outside the cluster")[1].split("Who may connect")[0]
    assert "claude mcp add --transport http time https://time.mcp.example.com/mcp" in outside
    assert "claude mcp add --transport http todo http://todo.gw.example.com/mcp" in outside
    assert "svc.cluster.local" not in outside

    # An exposed gateway is the one entry an outside client needs.
    gateway = {"enabled": True, "server": {"ingress": {**INGRESS, "hosts": ["mcp.example.com"]}}}
    with_gateway = tmp_path / "with-gateway.yaml"
    with_gateway.write_text(
        json.dumps({"gateway": gateway, "servers": {"time": {"ingress": INGRESS}}})
    )
    outside = notes((*TWO, with_gateway)).split("clients outside the cluster")[1]
    assert "claude mcp add --transport http gateway http://mcp.example.com/mcp" in outside
    assert "time.mcp.example.com" not in outside.split("Who may connect")[0]


def test_notes_print_no_outside_configs_when_nothing_is_exposed() -> None:
    text = notes(TWO)
    assert "clients outside the cluster" not in text
    assert f"kubectl -n {NAMESPACE} port-forward svc/time-mcp 8010" in text


@pytest.mark.parametrize(
    ("set_json", "message"),
    [
        (
            exposed("ingress", enabled=True, controllerNamespace="ingress"),
            "servers.time.ingress.hosts: at least one host name is required when "
            "servers.time.ingress.enabled; the server answers only the hosts it knows",
        ),
        (
            exposed("ingress", **{**INGRESS, "controllerNamespace": ""}),
            "servers.time.ingress.controllerNamespace: required while "
            "servers.time.networkPolicy.enabled, so that the NetworkPolicy admits the proxy's pods",
        ),
        (
            exposed("httpRoute", **{**ROUTE, "parentRefs": []}),
            "servers.time.httpRoute.parentRefs: at least one Gateway is required when "
            "servers.time.httpRoute.enabled",
        ),
        (
            exposed("httpRoute", **{**ROUTE, "hostnames": []}),
            "servers.time.httpRoute.hostnames: at least one host name is required",
        ),
    ],
    ids=["ingress-without-hosts", "no-controller-namespace", "route-without-gateway",
         "route-without-hostnames"],
)  # fmt: skip
def test_an_exposure_that_could_not_work_is_refused_naming_the_key(
    set_json: str, message: str
) -> None:
    assert message in render_error(TIME, (set_json,))


def test_a_host_is_exposed_by_one_server_only() -> None:
    both = (
        exposed("ingress", **INGRESS),
        f"servers.todo.httpRoute={json.dumps({**ROUTE, 'hostnames': ['time.mcp.example.com']})}",
    )
    assert (
        "servers.todo: host time.mcp.example.com is already exposed by servers.time; "
        "each host serves one server"
    ) in render_error(TWO, both)


@pytest.mark.parametrize(
    ("set_json", "message"),
    [
        (
            exposed("ingress", **{**INGRESS, "hosts": ["https://time.example.com"]}),
            "at '/servers/time/ingress/hosts/0': 'https://time.example.com' does not match",
        ),
        (
            exposed("httpRoute", **{**ROUTE, "scheme": "grpc"}),
            "at '/servers/time/httpRoute/scheme': value must be one of 'https', 'http'",
        ),
        (
            exposed("httpRoute", **{**ROUTE, "parentRefs": [{"namespace": "gateways"}]}),
            "at '/servers/time/httpRoute/parentRefs/0': missing property 'name'",
        ),
        (
            exposed("ingress", **INGRESS, extraPaths=["tasks"]),
            "at '/servers/time/ingress/extraPaths/0': 'tasks' does not match",
        ),
        (
            exposed("httpRoute", **ROUTE, extraPaths=["/tasks?all=1"]),
            "at '/servers/time/httpRoute/extraPaths/0': '/tasks?all=1' does not match",
        ),
    ],
    ids=[
        "host-with-scheme",
        "unknown-scheme",
        "parent-without-name",
        "relative-path",
        "route-path-with-query",
    ],
)
def test_the_schema_refuses_malformed_exposure(set_json: str, message: str) -> None:
    assert message in render_error(TIME, (set_json,))
