"""`service.type: LoadBalancer` and `NodePort` on the cluster: kube-router's allocator gives the
Service an address (as a cloud's controller would), clients outside `loadBalancerSourceRanges`
are turned away, the NetworkPolicy admits those inside, DNS-rebinding protection answers the
names in `service.hosts` and refuses any other, and a NodePort answers at the node's address
once `hosts` names it."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from harness.jsonrpc import modern_request
from kube import Kube
from release_values import FAST, RESTRICTED

pytestmark = pytest.mark.timeout(600)

CHART = Path(__file__).resolve().parents[2] / "charts" / "mcp-servers"
NAMESPACE = "mcp-published"
OUTSIDE = "mcp-published-outside"
RELEASE = "published"
HOST = "time.lb.mcp.test"
PORT = 8010
# scripts/local-node.sh's LOAD_BALANCER_CIDR, kube-router's --loadbalancer-ip-range.
LOAD_BALANCER_CIDR = ipaddress.ip_network("10.245.0.0/28")
NODE_PORT = 30812
NOBODY = "198.51.100.0/24"  # TEST-NET-2: no client of this test
AGENT = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "agent"},
    "spec": {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "containers": [
            {
                "name": "agent",
                "image": "localhost/mcp-servers/runtime:0.1.0",
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "600"],
                "securityContext": RESTRICTED,
            }
        ],
    },
}
# One session-less tools/call, run by the agent pod: argv = URL, Host, headers, body.
CALL = """
import json, sys, urllib.request
url, host, headers, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
request = urllib.request.Request(url, body.encode(), {**headers, "Host": host}, method="POST")
with urllib.request.urlopen(request, timeout=10) as answer:
    print(answer.status, answer.read().decode())
"""


def install(kube: Kube, repo_root: Path, service: dict) -> None:
    kube.helm(
        "upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE,
        "-f", str(repo_root / "values" / "time.yaml"),
        "--set-json", f"defaults={json.dumps(FAST)}",
        "--set-json", f"servers.time.service={json.dumps(service)}",
        "--wait", "--timeout", "3m",
    )  # fmt: skip


def source_address_towards(address: str) -> str:
    """The address this machine's connections to `address` leave from."""
    route = subprocess.run(
        ["ip", "route", "get", address], capture_output=True, text=True, check=True
    ).stdout.split()
    return route[route.index("src") + 1]


async def outside_call(url: str, host: str | None = None) -> tuple[set[str], str]:
    headers = {"Host": host} if host else {}
    async with Client(StreamableHttpTransport(url, headers=headers)) as client:
        names = {tool.name for tool in await client.list_tools()}
        result = await client.call_tool("get_current_time", {"timezone": "Asia/Tokyo"})
        return names, result.content[0].text


@pytest.fixture
def agent(kube: Kube, server_images: list[str]):
    for namespace in (NAMESPACE, OUTSIDE):
        kube.kubectl("create", "namespace", namespace, check=False)
    kube.apply(AGENT, OUTSIDE)
    kube.kubectl("-n", OUTSIDE, "wait", "--for=condition=Ready", "pod/agent", "--timeout=120s")
    yield kube.get("pod", "-n", OUTSIDE, "agent")["status"]["podIP"]
    kube.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
    for namespace in (NAMESPACE, OUTSIDE):
        kube.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def reached(url: str) -> str:
    """What a connection to the `/health` at `url` meets: `dropped` (no answer), `refused`, `the
    server`, or an HTTP status and who answered it. A connection kube-proxy neither forwards nor
    drops leaves by this machine's default route, where the network's egress proxy answers 404
    for any address (`server: keryx`): nothing announces load balancer addresses here."""
    try:
        answer = httpx.get(f"{url}/health", timeout=3)
    except httpx.ConnectTimeout:
        return "dropped"
    except httpx.ConnectError:
        return "refused"
    if answer.status_code == 200 and answer.json() == {"status": "ok"}:
        return "the server"
    return f"{answer.status_code} from {answer.headers.get('server', 'an unnamed server')}"


def kube_proxy_rules(address: str) -> list[str]:
    """The node's iptables rules that name `address` (kube-proxy's, for a Service's)."""
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    return [line for line in rules.splitlines() if address in line]


async def test_a_load_balancer_admits_its_source_ranges_and_hosts_and_a_node_port_its_node(
    repo_root: Path, kube: Kube, agent: str
) -> None:
    balanced = {
        "type": "LoadBalancer",
        "loadBalancerClass": "kube-router",
        "hosts": [HOST],
        "externalTrafficPolicy": "Local",
        "loadBalancerSourceRanges": [NOBODY],
    }
    install(kube, repo_root, balanced)
    address = kube.wait_for(
        # The local node's kube-router allocates (scripts/local-node.sh); kind has no
        # allocator, and cloud-provider-kind is in no registry this project reaches.
        "the local node's kube-router to give the Service an address",
        lambda: (
            kube.get("service", "-n", NAMESPACE, "time-mcp")["status"]
            .get("loadBalancer", {}).get("ingress", [{}])[0].get("ip")
        ),
        timeout=60,
    )  # fmt: skip
    assert ipaddress.ip_address(address) in LOAD_BALANCER_CIDR
    base = f"http://{address}:{PORT}"
    url = f"{base}/mcp"
    assert kube.get("service", "-n", NAMESPACE, "time-mcp")["spec"]["loadBalancerSourceRanges"] == [
        NOBODY
    ]
    # This machine is outside the source ranges: once kube-proxy has programmed them (the address
    # can come first), none of its connections reaches the server. kube-proxy drops them here; in
    # one CI run all of them for 90 s passed its DROP rule and left by the default route instead,
    # so the test holds to what the ranges promise (the server is not reached).
    kube.wait_for(
        "kube-proxy to drop what the load balancer's source ranges do not admit",
        lambda: any("-j DROP" in rule for rule in kube_proxy_rules(address)),
        timeout=90,
    )
    seen = [reached(base) for _ in range(3)]
    assert "the server" not in seen, (
        f"a connection from outside the source ranges reached the server: {seen}; "
        "kube-proxy's rules:\n" + "\n".join(kube_proxy_rules(address))
    )

    here = source_address_towards(address)
    ranges = [NOBODY, f"{here}/32", f"{agent}/32"]
    install(kube, repo_root, {**balanced, "loadBalancerSourceRanges": ranges})
    # With externalTrafficPolicy Local the pod sees each client's address, so the source
    # ranges are the NetworkPolicy's peers: the agent's pod is neither of the MCP tier nor of
    # the release's namespace, and only this rule admits it.
    (rule, *_) = kube.get("networkpolicy", "-n", NAMESPACE, "time-mcp")["spec"]["ingress"]
    assert [p["ipBlock"]["cidr"] for p in rule["from"] if "ipBlock" in p] == ranges

    names, now = await outside_call(url, HOST)
    assert "get_current_time" in names
    assert "Asia/Tokyo" in now
    # By its address alone, a name DNS-rebinding protection does not know: refused.
    headers, body = modern_request("tools/list", {})
    refused = httpx.post(url, json=body, headers=headers, timeout=10)
    assert refused.status_code == 421, refused.text

    headers, body = modern_request(
        "tools/call", {"name": "get_current_time", "arguments": {"timezone": "Asia/Tokyo"}}
    )
    answer = kube.kubectl(
        "-n", OUTSIDE, "exec", "agent", "--",
        "python3", "-c", CALL, url, HOST, json.dumps(headers), json.dumps(body),
    )  # fmt: skip
    status, _, text = answer.strip().partition(" ")
    assert status == "200", answer
    assert "Asia/Tokyo" in json.loads(text)["result"]["content"][0]["text"]

    # The same server as a NodePort named by the node's address: the URL NOTES prints works
    # with no Host header of the client's making.
    node_ip = next(
        address["address"]
        for address in kube.get("nodes")["items"][0]["status"]["addresses"]
        if address["type"] == "InternalIP"
    )
    # With traffic kept close and an address of each family the cluster has: the API server
    # keeps the distribution (an older one would drop it), and a single-stack cluster gives
    # its one family.
    install(
        kube,
        repo_root,
        {
            "type": "NodePort",
            "nodePort": NODE_PORT,
            "hosts": [node_ip],
            "trafficDistribution": "PreferClose",
            "ipFamilyPolicy": "PreferDualStack",
        },
    )
    spec = kube.get("service", "-n", NAMESPACE, "time-mcp")["spec"]
    assert spec["type"] == "NodePort" and "loadBalancerClass" not in spec
    assert spec["trafficDistribution"] == "PreferClose"
    assert spec["ipFamilyPolicy"] == "PreferDualStack"
    assert spec["ipFamilies"] == [f"IPv{ipaddress.ip_address(node_ip).version}"]
    # The type change rolls the pod (its allowed hosts changed) and kube-proxy programs the
    # node port for the new endpoint a moment after helm's wait ends: ask again for a while.
    deadline = time.monotonic() + 60
    while True:
        try:
            names, now = await outside_call(f"http://{node_ip}:{NODE_PORT}/mcp")
            break
        except RuntimeError:  # FastMCP's "Client failed to connect"
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
    assert "get_current_time" in names
    assert "Asia/Tokyo" in now
