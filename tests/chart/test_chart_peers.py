"""`peers`: a server calls other servers of the release over MCP. It gets their URLs as
`MCP_PEER_<NAME>_URL`, its NetworkPolicy lets it out to exactly those peers' pods and ports, and
each peer's NetworkPolicy names it; `networkPolicy.tierPortRange` admits the MCP tier on a port
range."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from crd_schemas import CRD_SCHEMAS
from helm_render import (
    KUBERNETES_VERSIONS,
    NAMESPACE,
    RELEASE,
    VALUES_DIR,
    Render,
    kubeconform,
    render,
    render_error,
    with_request_state_keys_masked,
)

# greeter (port 8000), time (8010), todo (8001); none of them sets secrets the tests need.
THREE = (VALUES_DIR / "greeter-code.yaml", VALUES_DIR / "time.yaml", VALUES_DIR / "todo.yaml")
CALLS = 'servers.todo.peers=["greeter","time"]'
GATEWAY = "gateway.enabled=true"
DNS_PORTS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


def url(fullname: str, port: int, domain: str = "cluster.local") -> str:
    return f"http://{fullname}.{NAMESPACE}.svc.{domain}:{port}/mcp"


def pods(name: str) -> dict[str, Any]:
    return {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": RELEASE}
        }
    }


def peer_rule(name: str, port: int) -> dict[str, Any]:
    return {"to": [pods(name)], "ports": [{"port": port, "protocol": "TCP"}]}


def peer_env(result: Render, fullname: str) -> dict[str, str]:
    data = result.get("ConfigMap", fullname)["data"]
    return {key: value for key, value in data.items() if key.startswith("MCP_PEER_")}


def container_env(result: Render, fullname: str) -> dict[str, dict[str, Any]]:
    (server,) = result.get("Deployment", fullname)["spec"]["template"]["spec"]["containers"]
    return {entry["name"]: entry for entry in server["env"]}


def policy(result: Render, fullname: str) -> dict[str, Any]:
    return result.get("NetworkPolicy", fullname)["spec"]


def egress_peers(result: Render, fullname: str) -> list[dict[str, Any]]:
    """The caller's egress rules other than DNS."""
    return [rule for rule in policy(result, fullname)["egress"] if rule["ports"] != DNS_PORTS]


# --- environment ------------------------------------------------------------------------------


def test_each_peer_url_is_in_the_config_map() -> None:
    result = render(THREE, set_json=(CALLS,))
    assert peer_env(result, "todo-mcp") == {
        "MCP_PEER_GREETER_URL": url("greeter-mcp", 8000),
        "MCP_PEER_TIME_URL": url("time-mcp", 8010),
    }
    assert peer_env(result, "greeter-mcp") == {}
    assert peer_env(result, "time-mcp") == {}


def test_the_container_reads_them_from_the_config_map() -> None:
    env = container_env(render(THREE, set_json=(CALLS,)), "todo-mcp")
    for name in ("MCP_PEER_GREETER_URL", "MCP_PEER_TIME_URL"):
        assert env[name] == {
            "name": name,
            "valueFrom": {"configMapKeyRef": {"name": "todo-mcp", "key": name}},
        }


def test_the_url_follows_the_peer_name_fullname_port_and_cluster_domain() -> None:
    result = render(
        (VALUES_DIR / "knowledge-graph.yaml", *THREE),
        set_json=(
            'servers.todo.peers=["knowledge-graph","time"]',
            'servers.time.fullnameOverride="clock"',
            "servers.time.port=9010",
            'global.clusterDomain="k8s.example"',
        ),
    )
    assert peer_env(result, "todo-mcp") == {
        "MCP_PEER_KNOWLEDGE_GRAPH_URL": url("knowledge-graph-mcp", 8010, "k8s.example"),
        "MCP_PEER_TIME_URL": url("clock", 9010, "k8s.example"),
    }


def test_the_gateway_can_be_a_peer() -> None:
    result = render(THREE, set_json=(GATEWAY, 'servers.todo.peers=["gateway"]'))
    assert peer_env(result, "todo-mcp") == {"MCP_PEER_GATEWAY_URL": url("gateway-mcp", 8020)}
    assert egress_peers(result, "todo-mcp")[:1] == [peer_rule("gateway", 8020)]
    assert pods("todo") in policy(result, "gateway-mcp")["ingress"][0]["from"]


def test_a_new_peer_rolls_the_pods() -> None:
    def checksum(result: Render) -> str:
        deployment = result.get("Deployment", "todo-mcp")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum(render(THREE)) != checksum(render(THREE, set_json=(CALLS,)))


def test_no_peers_change_nothing() -> None:
    plain = render(THREE)
    none = render(THREE, set_json=("servers.todo.peers=[]",))
    masked = with_request_state_keys_masked
    assert masked(plain.objects) == masked(none.objects)
    assert egress_peers(plain, "greeter-mcp") == []


# --- NetworkPolicy ----------------------------------------------------------------------------


def test_the_caller_may_leave_to_exactly_its_peers_pods_and_ports() -> None:
    result = render(THREE, set_json=(CALLS,))
    todo_egress = egress_peers(result, "todo-mcp")
    # values/todo.yaml's own rule (the database) stays, after the peers'.
    assert todo_egress[:2] == [peer_rule("greeter", 8000), peer_rule("time", 8010)]
    assert todo_egress[2:] == result.get("NetworkPolicy", "todo-mcp")["spec"]["egress"][3:]
    assert all(rule.get("to") for rule in todo_egress), "a rule without `to` lets out anywhere"


def test_an_undeclared_call_cannot_leave_the_caller() -> None:
    """greeter lists only time: its egress names no other server of the release, so a call to
    todo is dropped at greeter's own pod, whatever todo's ingress admits."""
    result = render(THREE, set_json=('servers.greeter.peers=["time"]',))
    egress = policy(result, "greeter-mcp")["egress"]
    assert egress[0]["ports"] == DNS_PORTS
    assert egress[1:] == [peer_rule("time", 8010)]
    assert policy(result, "greeter-mcp")["policyTypes"] == ["Ingress", "Egress"]


def test_each_peer_admits_its_callers_by_name() -> None:
    result = render(THREE, set_json=(CALLS, 'servers.greeter.peers=["time"]'))
    time_from = policy(result, "time-mcp")["ingress"][0]
    assert pods("greeter") in time_from["from"] and pods("todo") in time_from["from"]
    assert time_from["ports"] == [{"port": 8010, "protocol": "TCP"}]
    greeter_from = policy(result, "greeter-mcp")["ingress"][0]["from"]
    assert pods("todo") in greeter_from and pods("greeter") not in greeter_from
    # Nobody calls todo: its policy names no server, only the tier.
    assert policy(result, "todo-mcp")["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "mcp-servers"}}}
    ]


def test_the_peer_admits_a_caller_even_without_a_policy_of_its_own() -> None:
    result = render(THREE, set_json=(CALLS, "servers.todo.networkPolicy.enabled=false"))
    assert "todo-mcp" not in result.names("NetworkPolicy")
    assert peer_env(result, "todo-mcp")["MCP_PEER_TIME_URL"] == url("time-mcp", 8010)
    assert pods("todo") in policy(result, "time-mcp")["ingress"][0]["from"]


def test_tier_port_range_adds_a_tier_only_rule() -> None:
    result = render(
        THREE, set_json=('servers.time.networkPolicy.tierPortRange={"port":9000,"endPort":9099}',)
    )
    ingress = policy(result, "time-mcp")["ingress"]
    assert ingress[0]["ports"] == [{"port": 8010, "protocol": "TCP"}]
    assert ingress[1] == {
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "mcp-servers"}}}],
        "ports": [{"port": 9000, "endPort": 9099, "protocol": "TCP"}],
    }
    assert len(policy(result, "todo-mcp")["ingress"]) == 1


def test_tier_port_range_for_the_whole_fleet_and_a_single_port_range() -> None:
    result = render(
        THREE, set_json=('defaults.networkPolicy.tierPortRange={"port":9000,"endPort":9000}',)
    )
    for fullname in ("greeter-mcp", "time-mcp", "todo-mcp"):
        assert policy(result, fullname)["ingress"][1]["ports"] == [
            {"port": 9000, "endPort": 9000, "protocol": "TCP"}
        ]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("set_json", "message"),
    [
        (
            ('servers.todo.peers=["greeter","calendar"]',),
            "servers.todo.peers[1]: calendar is not a server of this release (enabled: greeter,"
            " time)",
        ),
        (
            ('servers.todo.peers=["todo"]',),
            "servers.todo.peers[0]: todo is this server itself; it calls its own tools in"
            " process, not over the network",
        ),
        (
            ('servers.todo.peers=["time"]', "servers.time.enabled=false"),
            "servers.todo.peers[0]: servers.time is disabled (enabled: false), so there is"
            " nothing to call; enable it or remove it from servers.todo.peers",
        ),
        (
            ('servers.todo.peers=["time","gateway"]',),
            "servers.todo.peers[1]: the gateway is not enabled (gateway.enabled: false); enable"
            " it or remove it from servers.todo.peers",
        ),
        (
            (GATEWAY, 'gateway.server.peers=["gateway"]'),
            "gateway.server.peers[0]: gateway is this server itself; it calls its own tools in"
            " process, not over the network",
        ),
        (
            (GATEWAY, 'gateway.server.peers=["nope"]'),
            "gateway.server.peers[0]: nope is not a server of this release (enabled: greeter,"
            " time, todo)",
        ),
        (
            (CALLS, 'servers.todo.env={"MCP_PEER_TIME_URL":"http://elsewhere/mcp"}'),
            "servers.todo.env.MCP_PEER_TIME_URL: set by the chart from servers.todo.peers[1];"
            " remove it",
        ),
        (
            (
                CALLS,
                'servers.todo.secrets=[{"name":"DATABASE_URL","remoteRef":"db"},'
                '{"name":"MCP_PEER_GREETER_URL","remoteRef":"x"}]',
            ),
            "servers.todo.secrets[1].name: MCP_PEER_GREETER_URL is set by the chart from"
            " servers.todo.peers[0]; it cannot come from a secret",
        ),
        (
            ('servers.todo.peers=["time","time"]',),
            "at '/servers/todo/peers': items at 0 and 1 are equal",
        ),
        (
            ('servers.todo.peers=["Time"]',),
            "at '/servers/todo/peers/0': 'Time' does not match pattern",
        ),
        (
            ('servers.time.networkPolicy.tierPortRange={"port":9099,"endPort":9000}',),
            "servers.time.networkPolicy.tierPortRange.endPort: 9000 is below port 9099; endPort"
            " ends the range that starts at port",
        ),
        (
            ('servers.time.networkPolicy.tierPortRange={"port":9000}',),
            "servers.time.networkPolicy.tierPortRange.endPort: required in a range (the last"
            " port the MCP tier may reach); set both port and endPort, or leave"
            " servers.time.networkPolicy.tierPortRange empty",
        ),
        (
            ('servers.time.networkPolicy.tierPortRange={"endPort":9000}',),
            "servers.time.networkPolicy.tierPortRange.port: required in a range (the first"
            " port the MCP tier may reach); set both port and endPort, or leave"
            " servers.time.networkPolicy.tierPortRange empty",
        ),
        (
            ('servers.time.networkPolicy.tierPortRange={"port":9000,"endPort":70000}',),
            "at '/servers/time/networkPolicy/tierPortRange/endPort': maximum: got 70,000,"
            " want 65,535",
        ),
        (
            ('servers.time.networkPolicy.tierPortRange={"port":9000,"end":9001}',),
            "at '/servers/time/networkPolicy/tierPortRange': additional properties 'end' not"
            " allowed",
        ),
    ],
)
def test_bad_peers_fail_naming_the_key(set_json: tuple[str, ...], message: str) -> None:
    assert message in render_error(THREE, set_json)


# --- Kubernetes accepts it --------------------------------------------------------------------


@pytest.mark.parametrize("version", [KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]])
def test_the_render_passes_kubeconform(version: str, tmp_path: Path) -> None:
    result = render(
        THREE,
        set_json=(
            GATEWAY,
            'servers.todo.peers=["greeter","time","gateway"]',
            'servers.greeter.peers=["todo"]',
            f"defaults.networkPolicy.tierPortRange={json.dumps({'port': 9000, 'endPort': 9099})}",
        ),
    )
    rendered = tmp_path / "peers.yaml"
    rendered.write_text(result.text)
    report = kubeconform(version, rendered, skip=tuple(CRD_SCHEMAS))
    problems = [
        r for r in report["resources"] if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert problems == []
    assert report["summary"]["valid"] == len(
        [obj for obj in result.objects if obj["kind"] not in CRD_SCHEMAS]
    )
