"""`service.type` NodePort and LoadBalancer: a server published outside the cluster on the
nodes or at a load balancer's address, its outside names allowed by its DNS-rebinding
protection, its outside clients admitted by its NetworkPolicy, and their URL in NOTES."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helm_render import VALUES_DIR, Render, notes, render, render_error

TIME = (VALUES_DIR / "time.yaml",)
TWO = (VALUES_DIR / "time.yaml", VALUES_DIR / "todo.yaml")
BALANCED = {
    "type": "LoadBalancer",
    "loadBalancerClass": "kube-router",
    "hosts": ["time.lb.example.com"],
}
EVERY_ADDRESS = [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]


def published(**service: object) -> tuple[str, ...]:
    return (f"servers.time.service={json.dumps(service)}",)


def outside_peers(result: Render, fullname: str) -> list[dict[str, Any]]:
    (rule, *_) = result.get("NetworkPolicy", fullname)["spec"]["ingress"]
    return [peer for peer in rule["from"] if "ipBlock" in peer]


def test_a_load_balancer_service_carries_its_class_ranges_and_traffic_policy() -> None:
    result = render(
        TIME,
        set_json=published(
            **BALANCED,
            loadBalancerSourceRanges=["203.0.113.0/24", "2001:db8::/32"],
            externalTrafficPolicy="Local",
        ),
    )
    spec = result.get("Service", "time-mcp")["spec"]
    assert spec["type"] == "LoadBalancer"
    assert spec["loadBalancerClass"] == "kube-router"
    assert spec["loadBalancerSourceRanges"] == ["203.0.113.0/24", "2001:db8::/32"]
    assert spec["externalTrafficPolicy"] == "Local"
    # No node port asked for: Kubernetes picks one.
    assert "nodePort" not in spec["ports"][0]
    # The pod sees each client's own address, so the ranges are the NetworkPolicy's peers too.
    assert outside_peers(result, "time-mcp") == [
        {"ipBlock": {"cidr": "203.0.113.0/24"}},
        {"ipBlock": {"cidr": "2001:db8::/32"}},
    ]
    hosts = result.get("ConfigMap", "time-mcp")["data"]["MCP_ALLOWED_HOSTS"].split(",")
    assert hosts[-1] == "time.lb.example.com"


def test_with_the_cluster_traffic_policy_every_address_is_admitted() -> None:
    """A node forwards the connection from its own address, which the chart cannot know; the
    load balancer and kube-proxy have applied the source ranges before."""
    result = render(
        TIME,
        set_json=published(**BALANCED, loadBalancerSourceRanges=["203.0.113.0/24"]),
    )
    spec = result.get("Service", "time-mcp")["spec"]
    assert "externalTrafficPolicy" not in spec
    assert outside_peers(result, "time-mcp") == EVERY_ADDRESS


def test_a_node_port_service_admits_outside_clients_and_a_cluster_ip_one_does_not() -> None:
    node_port = render(TIME, set_json=published(type="NodePort", nodePort=30810))
    assert node_port.get("Service", "time-mcp")["spec"]["ports"][0]["nodePort"] == 30810
    assert outside_peers(node_port, "time-mcp") == EVERY_ADDRESS
    assert outside_peers(render(TIME), "time-mcp") == []


def test_a_load_balancer_may_pin_its_node_port_unique_across_servers() -> None:
    result = render(TIME, set_json=published(type="LoadBalancer", nodePort=30811))
    assert result.get("Service", "time-mcp")["spec"]["ports"][0]["nodePort"] == 30811
    both = (
        *published(type="LoadBalancer", nodePort=30811),
        'servers.todo.service={"type":"NodePort","nodePort":30811}',
    )
    message = render_error(TWO, both)
    assert "service.nodePort: 30811 is already used by servers." in message


def test_a_server_behind_the_policy_off_gets_no_peers() -> None:
    result = render(
        TIME, set_json=(*published(**BALANCED), "servers.time.networkPolicy.enabled=false")
    )
    assert result.all("NetworkPolicy") == []


def test_notes_give_outside_clients_the_published_url(tmp_path: Path) -> None:
    values = tmp_path / "published.yaml"
    values.write_text(
        json.dumps(
            {
                "servers": {
                    "time": {"service": BALANCED},
                    "todo": {
                        "service": {
                            "type": "NodePort",
                            "nodePort": 30812,
                            "hosts": ["node1.example.com", "node2.example.com"],
                        }
                    },
                }
            }
        )
    )
    text = notes((*TWO, values))
    assert "from outside:     http://time.lb.example.com:8010/mcp" in text
    assert "from outside:     http://node1.example.com:30812/mcp" in text
    outside = text.split("clients outside the cluster")[1].split("Who may connect")[0]
    assert "claude mcp add --transport http time http://time.lb.example.com:8010/mcp" in outside
    assert "claude mcp add --transport http todo http://node1.example.com:30812/mcp" in outside
    who = text.split("Who may connect")[1]
    assert "for time, published by a LoadBalancer Service, any address" in who


def test_notes_say_how_to_find_a_load_balancers_address_when_no_host_is_named(
    tmp_path: Path,
) -> None:
    values = tmp_path / "unnamed.yaml"
    values.write_text(json.dumps({"servers": {"time": {"service": {"type": "LoadBalancer"}}}}))
    text = notes((*TIME, values))
    assert "http://<address>:8010/mcp once servers.time.service.hosts" in text
    assert (
        "get service time-mcp -o jsonpath='{.status.loadBalancer.ingress[0].ip}"
        "{.status.loadBalancer.ingress[0].hostname}'"
    ) in text
    assert "clients outside the cluster" not in text


@pytest.mark.parametrize(
    ("service", "message"),
    [
        (
            {"type": "LoadBalancer", "nodePort": 8080},
            "servers.time.service.nodePort: 8080 is not a node port (30000-32767); 0 lets "
            "Kubernetes pick one",
        ),
        (
            {"hosts": ["time.example.com"]},
            "servers.time.service.hosts: only valid when servers.time.service.type is NodePort "
            "or LoadBalancer (it is ClusterIP): a ClusterIP Service is not reachable from outside "
            "the cluster",
        ),
        (
            {"externalTrafficPolicy": "Local"},
            "servers.time.service.externalTrafficPolicy: only valid when servers.time.service."
            "type is NodePort or LoadBalancer (it is ClusterIP)",
        ),
        (
            {"type": "NodePort", "nodePort": 30813, "loadBalancerClass": "kube-router"},
            "servers.time.service.loadBalancerClass: only valid when servers.time.service.type "
            "is LoadBalancer (it is NodePort)",
        ),
        (
            {"loadBalancerSourceRanges": ["203.0.113.0/24"]},
            "servers.time.service.loadBalancerSourceRanges: only valid when servers.time."
            "service.type is LoadBalancer (it is ClusterIP)",
        ),
        (
            {"type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.7"]},
            'servers.time.service.loadBalancerSourceRanges: "203.0.113.7" is not a CIDR (an IPv4 '
            "or IPv6 address, `/` and a prefix length, e.g. 203.0.113.0/24)",
        ),
        (
            {"type": "LoadBalancer", "hosts": ["http://time.example.com"]},
            'servers.time.service.hosts: "http://time.example.com" is not a host name or IPv4 '
            "address (lower-case DNS labels; no scheme, port or path)",
        ),
    ],
    ids=[
        "lb-node-port-out-of-range",
        "hosts-on-cluster-ip",
        "traffic-policy-on-cluster-ip",
        "class-on-node-port",
        "ranges-on-cluster-ip",
        "range-without-prefix",
        "host-with-scheme",
    ],
)
def test_a_service_setting_that_could_not_work_is_refused_naming_the_key(
    service: dict[str, Any], message: str
) -> None:
    assert message in render_error(TIME, published(**service))


def test_the_schema_refuses_an_unknown_traffic_policy() -> None:
    message = render_error(TIME, published(type="LoadBalancer", externalTrafficPolicy="Nearest"))
    assert "at '/servers/time/service/externalTrafficPolicy': value must be one of" in message
