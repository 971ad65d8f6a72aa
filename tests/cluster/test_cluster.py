"""The chart on a real cluster: rolling upgrade under load (directly and through the gateway),
rollback, NetworkPolicy, storage, the front door, OAuth, the reference backend."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shlex
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from harness.jsonrpc import INITIALIZE, MCP_HEADERS, modern_request
from kube import Kube
from release_values import FAST, RESTRICTED
from todo_backend import todo_backend_manifests

if TYPE_CHECKING:
    from collections.abc import Iterable

    from conftest import OidcProvider

# The first test to use the images builds them and loads them into the node; from empty
# Docker and containerd caches that alone takes minutes, well past the suite's 300 s.
pytestmark = pytest.mark.timeout(1200)

CHART = Path(__file__).resolve().parents[2] / "charts" / "mcp-servers"
E2E_NAMESPACE = "mcp-e2e"
RELEASE = "e2e"
TODO_URL = f"http://todo-mcp.{E2E_NAMESPACE}.svc.cluster.local:8001/mcp"
CLIENT_IMAGE = "localhost/mcp-servers/runtime:0.1.0"
MCP_TIER = {"app.kubernetes.io/part-of": "mcp-servers"}


def test_cluster_runs_kubernetes_1_34_with_dns(kube: Kube) -> None:
    version = json.loads(kube.kubectl("version", "-o", "json"))["serverVersion"]["gitVersion"]
    assert version.startswith("v1.34."), version
    nodes = kube.get("nodes")["items"]
    ready = [c["status"] for n in nodes for c in n["status"]["conditions"] if c["type"] == "Ready"]
    assert ready == ["True"] * len(nodes) and nodes
    dns = kube.get("deployment", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    assert dns and all(d["status"].get("readyReplicas", 0) >= 1 for d in dns)


def test_the_node_reports_its_health_for_a_failed_run(kube: Kube) -> None:
    """What `make test` prints when tests/cluster fails, before the node is removed."""
    report = kube.run("bash", "scripts/cluster.sh", "health").stdout
    assert "components: all running" in report, report
    assert re.search(r"machine: load [\d.]+/[\d.]+/[\d.]+ on \d+ cores", report), report
    assert re.search(r"etcd commits: [1-9]\d*, \d+ over 128 ms, the slowest under", report), report
    assert re.search(r"kube-apiserver: \d+ errors logged", report), report


def deploy_todo(kube: Kube, *extra: str) -> None:
    """Installs or upgrades the e2e release of values/todo.yaml with its plain-Secret variant
    (cluster/values/todo.yaml: two fixed replicas, no External Secrets) and waits for it."""
    root = CHART.parents[1]
    kube.helm(
        "upgrade", "--install", RELEASE, str(CHART), "-n", E2E_NAMESPACE,
        "-f", str(root / "values" / "todo.yaml"),
        "-f", str(root / "cluster" / "values" / "todo.yaml"),
        *extra, "--wait", "--timeout", "5m",
    )  # fmt: skip


@pytest.fixture(scope="module")
def todo_release(
    repo_root: Path, kube: Kube, server_images: list[str], in_cluster_postgresql: None
):
    kube.kubectl("create", "namespace", E2E_NAMESPACE, check=False)
    kube.kubectl(
        "-n",
        E2E_NAMESPACE,
        "apply",
        "-f",
        str(repo_root / "cluster/manifests/database-secrets.yaml"),
    )
    deploy_todo(kube)
    yield
    kube.helm("uninstall", RELEASE, "-n", E2E_NAMESPACE, "--wait", check=False)
    kube.kubectl("delete", "namespace", E2E_NAMESPACE, "--timeout", "180s", check=False)


def client_pod(name: str, labels: dict[str, str], command: str, configmap: str | None = None):
    """A pod in the e2e namespace running `command` with python3 from the runtime image."""
    container = {
        "name": "client",
        "image": CLIENT_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", command],
        "env": [{"name": "MCP_URL", "value": TODO_URL}],
        "securityContext": RESTRICTED,
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    }
    if configmap:
        container["workingDir"] = "/load"
        container["volumeMounts"] = [{"name": "load", "mountPath": "/load"}]
        pod["spec"]["volumes"] = [{"name": "load", "configMap": {"name": configmap}}]
    return pod


def run_pod_to_completion(kube: Kube, pod: dict, timeout: float = 120) -> tuple[str, str]:
    name = pod["metadata"]["name"]
    kube.kubectl("-n", E2E_NAMESPACE, "delete", "pod", name, "--ignore-not-found", "--wait")
    kube.apply(pod, E2E_NAMESPACE)
    phase = kube.wait_for(
        f"pod {name} to finish",
        lambda: (p := kube.pod_phase(E2E_NAMESPACE, name)) in ("Succeeded", "Failed") and p,
        timeout,
    )
    return phase, kube.kubectl("-n", E2E_NAMESPACE, "logs", name)


def todo_pods(kube: Kube) -> dict[str, dict]:
    return kube.pods(
        E2E_NAMESPACE, f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=todo"
    )


def gateway_pods(kube: Kube) -> dict[str, dict]:
    return kube.pods(
        E2E_NAMESPACE, f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=gateway"
    )


def ready_pod_names(kube: Kube) -> set[str]:
    return {
        name
        for name, pod in todo_pods(kube).items()
        if not pod["metadata"].get("deletionTimestamp")
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod["status"].get("conditions", [])
        )
    }


def rolled_pods(kube: Kube, replacing: set[str]) -> set[str]:
    """Waits for the rollout, then for only new, ready pods to remain; returns their names."""
    kube.kubectl(
        "-n", E2E_NAMESPACE, "rollout", "status", "deployment/todo-mcp", "--timeout", "180s"
    )
    return kube.wait_for(
        "only new pods to remain",
        lambda: (
            (names := ready_pod_names(kube))
            and not names & replacing
            and len(todo_pods(kube)) == 2
            and names
        ),
    )


def configmap_log_level(kube: Kube, server: str = "todo") -> str:
    configmaps = kube.get(
        "configmap",
        "-n",
        E2E_NAMESPACE,
        "-l",
        f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name={server}",
    )
    return next(
        cm["data"]["LOG_LEVEL"] for cm in configmaps["items"] if "LOG_LEVEL" in cm.get("data", {})
    )


UPGRADE_CLIENTS = "handshake:2,session-less:2,session-based:2"
# The e2e release's gateway during the upgrade test: two replicas, so that its own rollout has
# a pod to move to; the load pods carry the MCP tier's label, which its NetworkPolicy admits.
UPGRADE_GATEWAY = {"enabled": True, "server": {"replicas": 2}}
GATEWAY_URL = f"http://gateway-mcp.{E2E_NAMESPACE}.svc.cluster.local:8020/mcp"
# Where each load pod calls todo: its Service, and the gateway (todo's tools as `todo_*`).
UPGRADE_LOADS = {
    "upgrade-load": {"MCP_URL": TODO_URL},
    "upgrade-load-gateway": {"MCP_URL": GATEWAY_URL, "LOAD_TOOL_PREFIX": "todo_"},
}


def start_load(kube: Kube, name: str, env: dict[str, str]) -> None:
    pod = client_pod(name, MCP_TIER, "python3 load_calls.py", configmap="upgrade-load")
    container = pod["spec"]["containers"][0]
    container["env"] = [
        *(entry for entry in container["env"] if entry["name"] not in env),
        *({"name": key, "value": value} for key, value in env.items()),
        {"name": "LOAD_CLIENTS", "value": UPGRADE_CLIENTS},
    ]
    kube.kubectl("-n", E2E_NAMESPACE, "delete", "pod", name, "--ignore-not-found", "--wait")
    kube.apply(pod, E2E_NAMESPACE)


def load_started(kube: Kube, name: str) -> bool:
    probe = ("kubectl", "-n", E2E_NAMESPACE, "exec", name, "--", "test", "-e", "/tmp/started")
    return kube.run(*probe, check=False).returncode == 0


def stop_loads(kube: Kube, names: Iterable[str]) -> dict[str, dict]:
    """Stops every load at once (one still calling while another reads back would only pile
    up more tasks to read back), then returns each one's summary once it has read back."""
    for name in names:
        kube.kubectl("-n", E2E_NAMESPACE, "exec", name, "--", "touch", "/tmp/stop")
    summaries = {}
    for name in names:
        try:
            kube.wait_for(
                f"the load of {name} to finish",
                lambda n=name: kube.pod_phase(E2E_NAMESPACE, n) in ("Succeeded", "Failed"),
                timeout=300,
            )
        except AssertionError as timed_out:
            tail = kube.kubectl("-n", E2E_NAMESPACE, "logs", name, "--tail", "20", check=False)
            raise AssertionError(f"{timed_out}; its last lines:\n{tail}") from None
        logs = kube.kubectl("-n", E2E_NAMESPACE, "logs", name)
        summaries[name] = json.loads(logs.strip().splitlines()[-1])
    return summaries


def test_upgrade_under_load_loses_no_call_and_rollback_restores(
    repo_root: Path, kube: Kube, todo_release: None
) -> None:
    """A config change rolls todo's pods and the gateway's while clients of both protocol
    generations call todo directly and through the gateway: no call is lost."""
    smoke = (CHART / "files" / "mcp-smoke.py").read_text()
    load = (Path(__file__).parent / "load_calls.py").read_text()
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "upgrade-load"},
        "data": {"mcp_smoke.py": smoke, "load_calls.py": load},
    }
    kube.apply(configmap, E2E_NAMESPACE)
    with_gateway = ("--set-json", f"gateway={json.dumps(UPGRADE_GATEWAY)}")
    deploy_todo(kube, *with_gateway)
    before = ready_pod_names(kube)
    assert len(before) == 2, before
    assert configmap_log_level(kube) == "info"
    gateways_before = set(gateway_pods(kube))
    assert len(gateways_before) == 2, gateways_before

    # Both protocol generations: a handshake per call, FastMCP clients kept open without a
    # handshake (2026-07-28) and with one (2025-11-25, mode="legacy"), on stateless servers.
    for name, env in UPGRADE_LOADS.items():
        start_load(kube, name, env)
    for name in UPGRADE_LOADS:
        kube.wait_for(f"the load of {name} to start", lambda n=name: load_started(kube, n))
    time.sleep(5)

    # A config change of both: the ConfigMaps' checksum annotations roll every pod.
    deploy_todo(
        kube, *with_gateway, "--set", "servers.todo.logLevel=debug",
        "--set", "gateway.server.logLevel=debug",
    )  # fmt: skip
    after = rolled_pods(kube, replacing=before)
    kube.kubectl(
        "-n", E2E_NAMESPACE, "rollout", "status", "deployment/gateway-mcp", "--timeout", "180s"
    )
    time.sleep(5)
    summaries = stop_loads(kube, UPGRADE_LOADS)
    for name, summary in summaries.items():
        print(f"{name}:", summary)
    for name, summary in summaries.items():
        assert summary["failure_count"] == 0, (name, summary)
        assert summary["missing"] == [], (name, summary)
        assert summary["created"] >= 20, (name, summary)
        for kind in ("handshake", "session-less", "session-based"):
            assert summary["kinds"][kind]["created"] >= 5, (name, summary)
    assert len(after) == 2 and not after & before
    assert configmap_log_level(kube) == "debug"
    assert configmap_log_level(kube, "gateway") == "debug"
    gateways_after = kube.wait_for(
        "only new gateway pods to remain",
        lambda: (
            len(names := set(gateway_pods(kube))) == 2 and not names & gateways_before and names
        ),
    )
    assert gateways_after

    # Rollback: back to revision 1's config (no gateway), rolled out again.
    kube.helm("rollback", RELEASE, "1", "-n", E2E_NAMESPACE, "--wait", "--timeout", "5m")
    rolled_back = rolled_pods(kube, replacing=after)
    assert configmap_log_level(kube) == "info"
    history = yaml.safe_load(kube.helm("history", RELEASE, "-n", E2E_NAMESPACE, "-o", "yaml"))
    assert [entry["status"] for entry in history][-1] == "deployed"
    assert "Rollback to 1" in history[-1]["description"]
    assert len(rolled_back) == 2
    assert not kube.get("deployment", "-n", E2E_NAMESPACE, "-l", "app.kubernetes.io/name=gateway")[
        "items"
    ]


# A ping over MCP; retried for a while because a new pod is admitted by the server's
# NetworkPolicy only once the policy controller has seen the pod's address.
CALL = "python3 -c " + shlex.quote(
    """
import os, time, urllib.request
request = urllib.request.Request(
    os.environ["MCP_URL"], method="POST",
    data=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
    headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
             "MCP-Protocol-Version": "2025-11-25"})
for attempt in range(20):
    try:
        print("status", urllib.request.urlopen(request, timeout=3).status)
        break
    except OSError as error:
        print("attempt", attempt, type(error).__name__, error, flush=True)
        time.sleep(1)
else:
    raise SystemExit("no answer")
"""
)


def test_network_policy_admits_only_the_mcp_tier(kube: Kube, todo_release: None) -> None:
    phase, logs = run_pod_to_completion(kube, client_pod("tier-client", MCP_TIER, CALL))
    assert phase == "Succeeded", logs
    assert "status 200" in logs

    phase, logs = run_pod_to_completion(kube, client_pod("outsider", {"app": "outsider"}, CALL))
    assert phase == "Failed", logs
    # Refused at the connection (kube-router REJECTs; DROP-based controllers time out), never
    # an HTTP answer from the server.
    assert "Connection refused" in logs or "timed out" in logs, logs
    assert "HTTPError" not in logs, logs


# --- requestState: a tool's ask for input answered on another replica ------------------------
# A server of inline code whose tool asks its caller to confirm (2026-07-28), installed with two
# replicas, a gateway of two replicas in front, and the chart's own `requestState` Secrets. Each
# call runs inside one pod against its own server (kubectl exec, 127.0.0.1), so it is certain
# which replica sealed and which opened.

ASKER_RELEASE = "asker"
ASKER_CODE = """
import os

import mcp_types
from fastmcp import Context, FastMCP

mcp = FastMCP("asker")


@mcp.tool(output_schema=None)
def confirmed(ctx: Context) -> str | mcp_types.InputRequiredResult:
    \"\"\"Asks its caller to confirm, then names the pod that asked and the one answering.\"\"\"
    if ctx.input_responses is None:
        ask = mcp_types.ElicitRequest(
            params=mcp_types.ElicitRequestFormParams(
                message="Go on?", requested_schema={"type": "object", "properties": {}}
            )
        )
        return mcp_types.InputRequiredResult(
            input_requests={"confirm": ask}, request_state=os.environ["HOSTNAME"]
        )
    return f"asked by {ctx.request_state}, answered by {os.environ['HOSTNAME']}"
"""
# Run in a pod: one tools/call to the server on 127.0.0.1:PORT, as Host HOST, of TOOL (then the
# answer to the ask sealed in STATE); prints the status and the JSON answer.
ASKER_CALL = """
import json, sys, urllib.error, urllib.request
meta, port, host, tool = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
params = {"name": tool, "arguments": {}, "_meta": meta}
if len(sys.argv) > 5:
    params["requestState"] = sys.argv[5]
    params["inputResponses"] = {"confirm": {"action": "accept", "content": {}}}
request = urllib.request.Request(
    f"http://127.0.0.1:{port}/mcp",
    json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).encode(),
    {"content-type": "application/json", "accept": "application/json, text/event-stream",
     "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
     "mcp-name": tool, "host": host},
)
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
"""
# Run in a server's pod: GET /ready on 127.0.0.1:PORT; prints the status and the body.
READY_FROM_INSIDE = """
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ready", timeout=10) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
"""
# (port, Host, tool) of the asker itself, and of the release's gateway in front of it.
DIRECT = ("8000", "asker-mcp", "confirmed")
THROUGH_GATEWAY = ("8020", "asker-gateway-mcp", "asker_confirmed")


def deploy_asker(kube: Kube, *extra: str) -> None:
    asker = {**FAST, "replicas": 2, "code": {"server.py": ASKER_CODE}}
    # The release's gateway, under a name of its own beside the e2e release's `gateway-mcp`.
    gateway = {
        "enabled": True,
        "server": {**FAST, "replicas": 2, "fullnameOverride": "asker-gateway-mcp"},
    }
    kube.helm(
        "upgrade", "--install", ASKER_RELEASE, str(CHART), "-n", E2E_NAMESPACE,
        "--set-json", f"servers={json.dumps({'asker': asker})}",
        "--set-json", f"gateway={json.dumps(gateway)}",
        *extra, "--wait", "--timeout", "5m",
    )  # fmt: skip


def asker_pods(kube: Kube, name: str = "asker") -> list[str]:
    """The release's pods of server `name` that are not on their way out."""
    selector = f"app.kubernetes.io/instance={ASKER_RELEASE},app.kubernetes.io/name={name}"
    return sorted(
        pod_name
        for pod_name, pod in kube.pods(E2E_NAMESPACE, selector).items()
        if not pod["metadata"].get("deletionTimestamp")
    )


def call_confirmed(
    kube: Kube, pod: str, state: str | None = None, via: tuple[str, str, str] = DIRECT
) -> tuple[int, dict]:
    _, meta = modern_request("tools/call", {"name": via[2]})
    args = [json.dumps(meta["params"]["_meta"]), *via, *([state] if state else [])]
    out = kube.kubectl(
        "-n", E2E_NAMESPACE, "exec", pod, "-c", "server", "--",
        "python3", "-c", ASKER_CALL, *args,
    )  # fmt: skip
    status, _, body = out.strip().partition(" ")
    return int(status), json.loads(body)


def test_an_ask_for_input_is_answered_on_another_replica_and_after_a_rollout(
    kube: Kube, todo_release: None
) -> None:
    deploy_asker(kube)
    try:
        first, second = asker_pods(kube)
        status, asked = call_confirmed(kube, first)
        assert status == 200, asked
        state = asked["result"]["requestState"]
        status, answered = call_confirmed(kube, second, state)
        assert status == 200, answered
        assert answered["result"]["content"][0]["text"] == (
            f"asked by {first}, answered by {second}"
        )
        secret = kube.get("secret", "-n", E2E_NAMESPACE, "asker-mcp-request-state")
        assert len(base64.b64decode(secret["data"]["keys"])) == 64

        # Through the gateway: asked through one of its pods, answered through the other,
        # each reaching the asker through its Service. Both layers seal, the gateway's pods
        # under a key of their own.
        front, back = asker_pods(kube, "gateway")
        status, asked = call_confirmed(kube, front, via=THROUGH_GATEWAY)
        assert status == 200, asked
        gateway_state = asked["result"]["requestState"]
        status, answered = call_confirmed(kube, back, gateway_state, via=THROUGH_GATEWAY)
        assert status == 200, answered
        said = re.fullmatch(
            r"asked by (\S+), answered by (\S+)", answered["result"]["content"][0]["text"]
        )
        assert said and set(said.groups()) <= {first, second}, answered
        # The gateway's seal is not the asker's: the asker refuses it.
        status, refused = call_confirmed(kube, first, gateway_state)
        assert (status, refused["error"]["code"]) == (400, -32602), refused

        # A change of config rolls both pods; the upgrade reads the Secret back and keeps the
        # key, so the new pods open what an old one sealed.
        deploy_asker(kube, "--set", "servers.asker.logLevel=debug")
        kube.wait_for("the old asker pods to go", lambda: first not in asker_pods(kube))
        rolled = asker_pods(kube)
        assert not {first, second} & set(rolled), rolled
        kept = kube.get("secret", "-n", E2E_NAMESPACE, "asker-mcp-request-state")
        assert kept["data"] == secret["data"]
        status, answered = call_confirmed(kube, rolled[0], state)
        assert status == 200, answered
        assert answered["result"]["content"][0]["text"] == (
            f"asked by {first}, answered by {rolled[0]}"
        )
    finally:
        kube.helm("uninstall", ASKER_RELEASE, "-n", E2E_NAMESPACE, "--wait", check=False)


# --- The pod's extras: a native sidecar, an init container, files, runtime class and DNS -------
# A server of inline code whose pod gets what platform teams add: a sidecar serving files to
# the pod (the runtime image running python's http.server), an init container that fetches
# from the sidecar into a scratch volume before the server starts, a ConfigMap's file mounted
# read-only, a RuntimeClass, a host alias, DNS options and the ServiceAccount's token, with the
# RuntimeClass and the ConfigMap among the release's `extraObjects`. Its one tool reads the files
# back.

EXTRAS_RELEASE = "extras"
EXTRAS_CODE = """
import json
import pathlib
import urllib.request

from fastmcp import FastMCP

mcp = FastMCP("extras")


@mcp.tool
def report() -> str:
    \"\"\"What the init container left, what the sidecar serves and what the ConfigMap holds.\"\"\"
    served = urllib.request.urlopen("http://files.local:9000/ca.pem", timeout=5).read().decode()
    return json.dumps(
        {
            "init": pathlib.Path("/work/fetched.pem").read_text(),
            "sidecar": served,
            "mounted": pathlib.Path("/etc/extra/ca.pem").read_text(),
        }
    )
"""
EXTRAS_BUNDLE = "-----BEGIN CERTIFICATE-----\nnot a real one\n-----END CERTIFICATE-----\n"
# Rendered with the release (`extraObjects`): the RuntimeClass its pod runs under (containerd's
# runc, the local node's one runtime) and the ConfigMap of the bundle.
EXTRAS_OBJECTS = [
    {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "{{ .Release.Name }}-runc"},
        "handler": "runc",
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "{{ .Release.Name }}-ca"},
        "data": {"ca.crt": EXTRAS_BUNDLE},
    },
]
FETCH = (
    "import urllib.request, pathlib; pathlib.Path('/work/fetched.pem').write_bytes("
    "urllib.request.urlopen('http://127.0.0.1:9000/ca.pem', timeout=5).read())"
)


def test_a_pod_runs_its_sidecar_and_init_container_with_files_runtime_class_and_dns(
    kube: Kube, todo_release: None
) -> None:
    image = {"repository": "mcp-servers/runtime", "tag": "0.1.0"}
    extras = {
        **FAST,
        "code": {"server.py": EXTRAS_CODE},
        "persistence": {
            "work": {"type": "emptyDir", "mountPath": "/work"},
            "ca": {
                "type": "configMap",
                "name": "{{ .Release.Name }}-ca",
                "items": [{"key": "ca.crt", "path": "ca.pem"}],
                "mountPath": "/etc/extra",
            },
        },
        "sidecars": {
            "files": {
                "image": image,
                # On every address: the kubelet probes the pod's. The NetworkPolicy still admits
                # only the server's port from outside the pod.
                "command": ["python3", "-m", "http.server", "9000"],
                "workingDir": "/etc/extra",
                "volumeMounts": [{"name": "ca", "mountPath": "/etc/extra", "readOnly": True}],
                "startupProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 1},
            }
        },
        "initContainers": {
            "fetch": {
                "image": image,
                "command": ["python3", "-c", FETCH],
                "volumeMounts": [{"name": "work", "mountPath": "/work"}],
            }
        },
        "runtimeClassName": "extras-runc",
        "serviceAccount": {"automountToken": True},
        "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["files.local"]}],
        "dnsConfig": {"options": [{"name": "ndots", "value": "2"}]},
        "minReadySeconds": 1,
    }
    try:
        kube.helm(
            "upgrade", "--install", EXTRAS_RELEASE, str(CHART), "-n", E2E_NAMESPACE,
            "--set-json", f"servers={json.dumps({'extras': extras})}",
            "--set-json", f"extraObjects={json.dumps(EXTRAS_OBJECTS)}",
            "--wait", "--timeout", "5m",
        )  # fmt: skip
        selector = f"app.kubernetes.io/instance={EXTRAS_RELEASE}"
        ((name, pod),) = kube.pods(E2E_NAMESPACE, selector).items()
        assert pod["spec"]["runtimeClassName"] == "extras-runc"
        statuses = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
        # The sidecar is still running beside the server; the init container ran and ended.
        assert "running" in statuses["files"]["state"], statuses["files"]
        assert statuses["fetch"]["state"]["terminated"]["exitCode"] == 0, statuses["fetch"]
        _, meta = modern_request("tools/call", {"name": "report"})
        out = kube.kubectl(
            "-n", E2E_NAMESPACE, "exec", "-i", name, "-c", "server", "--",
            "python3", "-", json.dumps(meta["params"]["_meta"]), "8000", "extras-mcp", "report",
            input=ASKER_CALL,
        )  # fmt: skip
        status, _, body = out.strip().partition(" ")
        assert status == "200", out
        report = json.loads(json.loads(body)["result"]["content"][0]["text"])
        assert report == {"init": EXTRAS_BUNDLE, "sidecar": EXTRAS_BUNDLE, "mounted": EXTRAS_BUNDLE}
        resolv = kube.kubectl("-n", E2E_NAMESPACE, "exec", name, "-c", "server", "--",
                              "cat", "/etc/resolv.conf")  # fmt: skip
        assert "ndots:2" in resolv, resolv
        # serviceAccount.automountToken: the sidecar can authenticate as the pod.
        token = "/var/run/secrets/kubernetes.io/serviceaccount/token"
        kube.kubectl("-n", E2E_NAMESPACE, "exec", name, "-c", "files", "--", "test", "-s", token)
    finally:
        kube.helm("uninstall", EXTRAS_RELEASE, "-n", E2E_NAMESPACE, "--wait", check=False)
    # The extra objects went with the release, the cluster-wide RuntimeClass too.
    assert not kube.kubectl("get", "runtimeclass", "extras-runc", "--ignore-not-found").strip()


# --- Storage: the chart's `persistence` on the cluster's default StorageClass -----------------
# Kept apart from the tests above (its own namespace and release) and last before the cluster
# goes down. About 15 s on the local node: an install, a pod replaced, an uninstall.

STORAGE_NAMESPACE = "mcp-storage"
STORAGE_RELEASE = "storage"
KNOWLEDGE_GRAPH = "knowledge-graph-mcp"
# values/knowledge-graph.yaml as users install it, tuned only to start and stop in seconds:
# probes every second, no preStop pause, a one-second drain, no helm test pod.
STORAGE_VALUES = {
    "drain": {"preStopSleepSeconds": 0, "timeoutSeconds": 1},
    "terminationGracePeriodSeconds": 6,
    "startupProbe": {"periodSeconds": 1, "failureThreshold": 60},
    "readinessProbe": {"periodSeconds": 1},
    "test": {"enabled": False},
}
ADA = {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}


def storage_pods(kube: Kube) -> dict[str, dict]:
    return kube.pods(STORAGE_NAMESPACE, f"app.kubernetes.io/instance={STORAGE_RELEASE}")


def call_in_pod(kube: Kube, repo_root: Path, tool: str, arguments: dict) -> str:
    """One tools/call from inside the server's own pod, over loopback (the NetworkPolicy admits
    only the MCP tier), with the chart's helm test client."""
    smoke = repo_root / "charts" / "mcp-servers" / "files" / "mcp-smoke.py"
    return kube.run(
        "kubectl", "-n", STORAGE_NAMESPACE, "exec", "-i", f"deploy/{KNOWLEDGE_GRAPH}", "--",
        "env", "MCP_URL=http://127.0.0.1:8010/mcp", f"MCP_TEST_TOOL={tool}",
        f"MCP_TEST_ARGUMENTS={json.dumps(arguments)}", "python3", "-",
        input=smoke.read_text(),
    ).stdout  # fmt: skip


def test_a_stateful_catalog_server_keeps_its_data_on_a_claim_across_pods(
    repo_root: Path, kube: Kube, server_images: list[str]
) -> None:
    """The stdio knowledge graph (npm's server-memory behind mcp-bridge) writes its graph to a
    `persistentVolumeClaim` bound on the cluster's default StorageClass (the local node's
    `local` pool, kind's `standard`) as UID 1000 (fsGroup), and a replacement pod, started only
    after the old one let go of the claim (Recreate), serves what the old one wrote. The
    uninstall leaves the volume Released; the next `make cluster-up` makes it Available again
    (scripts/local-node.sh)."""
    kube.kubectl("create", "namespace", STORAGE_NAMESPACE, check=False)
    values = [f"servers.knowledge-graph.{key}={json.dumps(v)}" for key, v in STORAGE_VALUES.items()]
    try:
        kube.helm(
            "upgrade", "--install", STORAGE_RELEASE, str(CHART), "-n", STORAGE_NAMESPACE,
            "-f", str(repo_root / "values" / "knowledge-graph.yaml"),
            *[arg for value in values for arg in ("--set-json", value)],
            "--wait", "--timeout", "2m",
        )  # fmt: skip
        claim = kube.get("pvc", "-n", STORAGE_NAMESPACE, f"{KNOWLEDGE_GRAPH}-data")
        assert claim["status"]["phase"] == "Bound", claim["status"]
        deployment = kube.get("deployment", "-n", STORAGE_NAMESPACE, KNOWLEDGE_GRAPH)
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert "called create_entities" in call_in_pod(
            kube, repo_root, "create_entities", {"entities": [ADA]}
        )
        (first,) = storage_pods(kube)
        kube.kubectl("-n", STORAGE_NAMESPACE, "delete", "pod", first, "--wait=false")
        kube.wait_for(
            "the replacement pod to be ready",
            lambda: [
                name
                for name, pod in storage_pods(kube).items()
                if name != first
                and any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in pod["status"].get("conditions", [])
                )
            ],
            timeout=90,
        )
        in_server = ("-n", STORAGE_NAMESPACE, "exec", f"deploy/{KNOWLEDGE_GRAPH}", "--")
        owner, graph = kube.kubectl(
            *in_server, "sh", "-c", "stat -c %u /data/memory.jsonl; cat /data/memory.jsonl"
        ).split("\n", 1)
        assert owner == "1000"
        assert "wrote the first program" in graph
        assert "called read_graph" in call_in_pod(kube, repo_root, "read_graph", {})
    finally:
        kube.helm("uninstall", STORAGE_RELEASE, "-n", STORAGE_NAMESPACE, "--wait", check=False)


# --- The front door: the gateway, exposed through the cluster's ingress controller -----------
# One release (two catalog servers and the gateway) in a namespace of its own, reached from the
# host through Traefik (scripts/cluster.sh ingress) and from an agent pod in another namespace.

FRONT_NAMESPACE = "mcp-front"
AGENTS_NAMESPACE = "mcp-agents"
FRONT_RELEASE = "front"
INGRESS_HOST = "mcp.front.test"
ROUTE_HOST = "mcp-route.front.test"
FRONT_GATEWAY = {
    "enabled": True,
    "server": {
        "ingress": {
            "enabled": True,
            "className": "traefik",
            "hosts": [INGRESS_HOST],
            "controllerNamespace": "ingress",
        },
        "httpRoute": {
            "enabled": True,
            "parentRefs": [{"name": "mcp", "namespace": "ingress"}],
            "hostnames": [ROUTE_HOST],
            "scheme": "http",
            "controllerNamespace": "ingress",
        },
        # Agents elsewhere reach the fleet through the gateway only.
        "networkPolicy": {
            "ingressFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": AGENTS_NAMESPACE}
                    }
                }
            ]
        },
    },
    # Scaled to 0, time's Service has no endpoints, and the gateway's NetworkPolicy drops the
    # packets sent to it: a call gets 3 s, and two failed calls in a row open the circuit.
    "servers": {"time": {"timeoutSeconds": 3, "circuitBreaker": {"failures": 2}}},
}
SMOKE = CHART / "files" / "mcp-smoke.py"


def agent_pod(name: str, url: str, tool: str, arguments: dict) -> dict:
    """A pod in the agents' namespace that calls `tool` at `url` with the chart's smoke client."""
    pod = client_pod(name, {"app": "agent"}, "python3 /load/mcp-smoke.py", configmap="smoke")
    env = pod["spec"]["containers"][0]["env"]
    env[:] = [
        {"name": "MCP_URL", "value": url},
        {"name": "MCP_TEST_TOOL", "value": tool},
        {"name": "MCP_TEST_ARGUMENTS", "value": json.dumps(arguments)},
        {"name": "MCP_TEST_TIMEOUT_SECONDS", "value": "8"},
    ]
    return pod


def run_agent(kube: Kube, pod: dict) -> tuple[str, str]:
    name = pod["metadata"]["name"]
    kube.apply(pod, AGENTS_NAMESPACE)
    phase = kube.wait_for(
        f"pod {name} to finish",
        lambda: (p := kube.pod_phase(AGENTS_NAMESPACE, name)) in ("Succeeded", "Failed") and p,
        120,
    )
    return phase, kube.kubectl("-n", AGENTS_NAMESPACE, "logs", name)


async def outside_call(base_url: str, host: str, tool: str, arguments: dict):
    """tools/list and one tools/call from the host, through the ingress controller, with the
    exposed host name in the Host header (it needs no DNS entry)."""
    transport = StreamableHttpTransport(f"{base_url}/mcp", headers={"Host": host})
    async with Client(transport) as client:
        names = {tool.name for tool in await client.list_tools()}
        return names, await client.call_tool(tool, arguments, raise_on_error=False)


async def outside_call_given_up(base_url: str, host: str, tool: str, arguments: dict) -> None:
    """A tools/call from the host through the ingress controller, cancelled by its caller
    once it has run a few seconds."""
    transport = StreamableHttpTransport(f"{base_url}/mcp", headers={"Host": host})
    async with Client(transport) as client:
        call = asyncio.ensure_future(client.call_tool(tool, arguments))
        done, _ = await asyncio.wait([call], timeout=3)
        assert not done, call.result()
        call.cancel()
        with suppress(asyncio.CancelledError):
            await call


async def wait_for_log_event(
    kube: Kube, namespace: str, deployment: str, event: str, **fields: object
) -> dict:
    """The first JSON log event of the deployment's pods named `event` with `fields`, waited
    for up to 30 s."""
    deadline = time.monotonic() + 30
    while True:
        logs = kube.kubectl("-n", namespace, "logs", f"deployment/{deployment}", "--tail=-1")
        for line in logs.splitlines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            if record.get("event") == event and fields.items() <= record.items():
                return record
        assert time.monotonic() < deadline, f"no {event} {fields} in {deployment}'s log"
        await asyncio.sleep(1)


async def test_the_gateway_is_the_front_door_from_outside_and_from_other_namespaces(
    repo_root: Path, kube: Kube, server_images: list[str], ingress_controller: str
) -> None:
    for namespace in (FRONT_NAMESPACE, AGENTS_NAMESPACE):
        kube.kubectl("create", "namespace", namespace, check=False)
    kube.run(
        "kubectl", "-n", AGENTS_NAMESPACE, "apply", "-f", "-",
        input=kube.kubectl("-n", AGENTS_NAMESPACE, "create", "configmap", "smoke",
                           f"--from-file={SMOKE}", "--dry-run=client", "-o", "yaml"),
    )  # fmt: skip
    try:
        kube.helm(
            "upgrade", "--install", FRONT_RELEASE, str(CHART), "-n", FRONT_NAMESPACE,
            "-f", str(repo_root / "values" / "time.yaml"),
            "-f", str(repo_root / "values" / "everything.yaml"),
            "--set-json", f"defaults={json.dumps(FAST)}",
            "--set-json", f"gateway={json.dumps(FRONT_GATEWAY)}",
            "--wait", "--timeout", "3m",
        )  # fmt: skip
        when = {"timezone": "Asia/Tokyo"}
        # From outside the cluster network, through Traefik: the Ingress's host and the
        # HTTPRoute's, every server's tools under one URL.
        for host in (INGRESS_HOST, ROUTE_HOST):
            # The gateway lists an upstream that answers in time; just after the rollout, on a
            # busy node, one may still be slow: ask again for a while.
            deadline = time.monotonic() + 60
            while True:
                names, result = await outside_call(
                    ingress_controller, host, "time_get_current_time", when
                )
                wanted = {"time_get_current_time", "everything_echo"}
                if wanted <= names or time.monotonic() > deadline:
                    break
                await asyncio.sleep(2)
            assert wanted <= names, names
            assert not result.is_error and "Asia/Tokyo" in result.content[0].text
        # A host the controller does not know is refused there; on the exposed host only the
        # MCP endpoint is routed, not the probes.
        wrong = httpx.post(f"{ingress_controller}/mcp", headers={"Host": "evil.front.test"})
        assert wrong.status_code == 404
        for path in ("/ready", "/health"):
            hidden = httpx.get(f"{ingress_controller}{path}", headers={"Host": INGRESS_HOST})
            assert hidden.status_code == 404 and "circuits" not in hidden.text, hidden.text

        # An agent in another namespace: through the gateway yes, around it no.
        gateway_url = f"http://gateway-mcp.{FRONT_NAMESPACE}.svc.cluster.local:8020/mcp"
        direct_url = f"http://time-mcp.{FRONT_NAMESPACE}.svc.cluster.local:8010/mcp"
        phase, logs = run_agent(kube, agent_pod("via-gateway", gateway_url, "everything_echo",
                                                {"message": "hi"}))  # fmt: skip
        assert phase == "Succeeded" and "called everything_echo" in logs, logs
        phase, logs = run_agent(kube, agent_pod("around-gateway", direct_url, "get_current_time",
                                                when))  # fmt: skip
        assert phase == "Failed", logs
        assert "Connection refused" in logs or "timed out" in logs, logs

        # A caller from outside that gives up closes its request (the 2026-07-28 way to
        # cancel): Traefik closes its own, the gateway cancels its call and closes its request
        # to the bridge, which cancels the call and tells the stdio server.
        in_front = ("-n", FRONT_NAMESPACE)
        await outside_call_given_up(
            ingress_controller,
            INGRESS_HOST,
            "everything_trigger-long-running-operation",
            {"duration": 60, "steps": 60},
        )
        for deployment in ("gateway-mcp", "everything-mcp"):
            await wait_for_log_event(
                kube, FRONT_NAMESPACE, deployment, "tool_call", outcome="cancelled"
            )

        # One server scaled to 0: only its tools fail, clearly; the gateway stays ready.
        kube.kubectl(*in_front, "scale", "deployment/time-mcp", "--replicas=0")
        kube.kubectl(*in_front, "wait", "--for=delete", "pod", "-l",
                     "app.kubernetes.io/name=time", "--timeout=60s")  # fmt: skip
        _, down = await outside_call(
            ingress_controller, INGRESS_HOST, "time_get_current_time", when
        )
        assert down.is_error and "upstream 'time' is unavailable" in down.content[0].text, down
        # A second failure opens its circuit: a third call fails at once, without a try.
        for expected in ("unavailable", "its circuit is open after 2 failed calls in a row"):
            _, down = await outside_call(
                ingress_controller, INGRESS_HOST, "time_get_current_time", when
            )
            assert down.is_error and expected in down.content[0].text, down
        _, echo = await outside_call(
            ingress_controller, INGRESS_HOST, "everything_echo", {"message": "still here"}
        )
        assert echo.content[0].text == "Echo: still here"
        # /ready, inside the gateway's pod (outside the cluster it is not routed).
        ready = kube.kubectl(*in_front, "exec", "deploy/gateway-mcp", "--", "python", "-c",
                             READY_FROM_INSIDE, "8020")  # fmt: skip
        assert ready.startswith("200 ") and "circuits open: time (" in ready, ready
    finally:
        kube.helm("uninstall", FRONT_RELEASE, "-n", FRONT_NAMESPACE, "--wait", check=False)
        for namespace in (FRONT_NAMESPACE, AGENTS_NAMESPACE):
            kube.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


# --- OAuth: Ory Hydra's tokens, checked by the servers through its JWKS ----------------------
# Hydra in namespace `oidc` (scripts/cluster.sh oidc) issues client-credentials JWTs; todo (its
# own release) and the gateway (another, in front of the stdio time server) take them in mode
# oauth, each exposed by Traefik on a host of its own, which is also the audience their tokens
# must carry. The gateway passes no token on, so time behind it runs in mode none. Everything is
# called from the host: Hydra's admin and token endpoints at its NodePorts, the servers through
# Traefik with their Host header.

OAUTH_NAMESPACE = "mcp-oauth"
OAUTH_TODO_RELEASE = "oauth-todo"
OAUTH_GATEWAY_RELEASE = "oauth-gateway"
TODO_HOST = "todo.oauth.test"
GATEWAY_HOST = "gateway.oauth.test"
# What the chart makes auth.oauth.resourceUrl when a server is exposed: its Ingress's URL.
TODO_RESOURCE = f"http://{TODO_HOST}/mcp"
GATEWAY_RESOURCE = f"http://{GATEWAY_HOST}/mcp"
ACCESS, READ, WRITE = "mcp:access", "todo:read", "todo:write"
READ_ONLY_TODO_TOOLS = {"list_tasks", "get_task"}
ALL_TODO_TOOLS = READ_ONLY_TODO_TOOLS | {
    "create_task",
    "update_task",
    "complete_task",
    "delete_task",
}
PER_CALLER = 5


def oauth_auth(provider: OidcProvider, **extra: object) -> dict:
    return {
        "mode": "oauth",
        "oauth": {
            "issuer": provider.issuer,
            "jwksUri": provider.jwks_uri,
            "requiredScopes": [ACCESS],
            # A token signed by a key the pod has not seen yet refetches the JWKS after 1 s.
            "jwksRefreshSeconds": 1,
        },
        **extra,
    }


def traefik_ingress(host: str) -> dict:
    return {
        "enabled": True,
        "className": "traefik",
        "hosts": [host],
        "controllerNamespace": "ingress",
    }


def oauth_releases(repo_root: Path, provider: OidcProvider) -> dict[str, list[str]]:
    """helm arguments of the two releases: todo on SQLite (no database to wait for) alone, and
    the gateway with time."""
    todo = {
        "secrets": [],
        "autoscaling": {"enabled": False},
        "replicas": 1,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "ingress": traefik_ingress(TODO_HOST),
        "auth": oauth_auth(
            provider,
            toolGrants={READ: ["@read-only"], WRITE: ["*"]},
            rateLimit={"perCaller": f"{PER_CALLER}/second"},
        ),
    }
    gateway = {
        "enabled": True,
        "server": {"ingress": traefik_ingress(GATEWAY_HOST), "auth": oauth_auth(provider)},
    }
    fast = ["--set-json", f"defaults={json.dumps(FAST)}"]
    todo_args = [f"servers.todo.{key}={json.dumps(value)}" for key, value in todo.items()]
    return {
        OAUTH_TODO_RELEASE: [
            "-f", str(repo_root / "values" / "todo.yaml"), *fast,
            *[arg for value in todo_args for arg in ("--set-json", value)],
        ],
        OAUTH_GATEWAY_RELEASE: [
            "-f", str(repo_root / "values" / "time.yaml"), *fast,
            "--set-json", f"gateway={json.dumps(gateway)}",
        ],
    }  # fmt: skip


def hydra_client(provider: OidcProvider) -> tuple[str, str]:
    """A new confidential client of Hydra's (its own token subject, so its own rate limit)
    allowed every scope, for both servers."""
    created = httpx.post(
        f"{provider.admin_url}/admin/clients",
        json={
            "grant_types": ["client_credentials"],
            "scope": f"{ACCESS} {READ} {WRITE}",
            "audience": [TODO_RESOURCE, GATEWAY_RESOURCE],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["client_id"], created.json()["client_secret"]


def hydra_token(
    provider: OidcProvider, client: tuple[str, str], audience: str, *scopes: str
) -> str:
    response = httpx.post(
        f"{provider.public_url}/oauth2/token",
        data={"grant_type": "client_credentials", "scope": " ".join(scopes), "audience": audience},
        auth=client,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def key_id(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def via_traefik(base_url: str, host: str, token: str | None, method: str, params: dict):
    """One session-less MCP request through Traefik."""
    if method == "initialize":
        headers, body = dict(MCP_HEADERS), INITIALIZE
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
    else:
        headers, body = modern_request(method, params, token)
    return httpx.post(f"{base_url}/mcp", json=body, headers={**headers, "Host": host}, timeout=30)


def call_via_traefik(
    base_url: str, host: str, token: str, tool: str, arguments: dict
) -> httpx.Response:
    return via_traefik(base_url, host, token, "tools/call", {"name": tool, "arguments": arguments})


def mcp_client(base_url: str, host: str, token: str) -> Client:
    return Client(
        StreamableHttpTransport(
            f"{base_url}/mcp", headers={"Host": host, "Authorization": f"Bearer {token}"}
        )
    )


def restarts(kube: Kube) -> dict[str, int]:
    """Pod name -> container restarts, of every pod of both releases."""
    return {
        name: sum(c["restartCount"] for c in pod["status"].get("containerStatuses", []))
        for name, pod in kube.pods(OAUTH_NAMESPACE, "app.kubernetes.io/part-of=mcp-servers").items()
    }


async def test_oauth_hydra_tokens_grants_limits_and_key_rotation_on_the_cluster(
    repo_root: Path,
    kube: Kube,
    server_images: list[str],
    ingress_controller: str,
    oidc_provider: OidcProvider,
) -> None:
    provider, traefik = oidc_provider, ingress_controller
    kube.kubectl("create", "namespace", OAUTH_NAMESPACE, check=False)
    releases = oauth_releases(repo_root, provider)
    started = time.monotonic()
    try:
        # Both releases at once: each spends its time waiting for pods.
        install = ("upgrade", "--install", "-n", OAUTH_NAMESPACE, "--wait", "--timeout", "3m")
        with ThreadPoolExecutor(len(releases)) as pool:
            installs = [
                pool.submit(kube.helm, *install, release, str(CHART), *args)
                for release, args in releases.items()
            ]
            for installed in installs:
                installed.result()
        installed_at = time.monotonic()
        config = kube.get("configmap", "-n", OAUTH_NAMESPACE, "todo-mcp")["data"]
        assert config["MCP_RESOURCE_URL"] == TODO_RESOURCE
        assert config["MCP_JWT_ISSUER"] == provider.issuer
        assert provider.issuer == "http://hydra.oidc.svc.cluster.local:4444"

        # No token: 401 naming where the metadata is, as a client outside reaches it. Retried
        # while Traefik has not picked the new Ingress up (its 404).
        anonymous = kube.wait_for(
            "Traefik to route todo's host",
            lambda: (
                (r := via_traefik(traefik, TODO_HOST, None, "initialize", {})).status_code != 404
                and r
            ),
            timeout=60,
        )
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["www-authenticate"] == (
            f'Bearer scope="{ACCESS}", resource_metadata='
            f'"http://{TODO_HOST}/.well-known/oauth-protected-resource/mcp"'
        )
        # The gateway's Ingress comes with the other release, and Traefik may pick it up
        # later than todo's (a client's first request then got Traefik's 404).
        kube.wait_for(
            "Traefik to route the gateway's host",
            lambda: via_traefik(traefik, GATEWAY_HOST, None, "initialize", {}).status_code != 404,
            timeout=60,
        )
        metadata = httpx.get(
            f"{traefik}/.well-known/oauth-protected-resource/mcp", headers={"Host": TODO_HOST}
        ).json()
        assert metadata["resource"] == TODO_RESOURCE
        assert metadata["authorization_servers"] == [provider.issuer]
        # The provider the metadata names is the one the host gets tokens from.
        discovery = httpx.get(f"{provider.public_url}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == provider.issuer
        assert discovery["jwks_uri"] == provider.jwks_uri

        # Tool grants: todo:read opens the read-only tools; a write asks for todo:write.
        reader, writer, limited = (hydra_client(provider) for _ in range(3))
        read_token = hydra_token(provider, reader, TODO_RESOURCE, ACCESS, READ)
        async with mcp_client(traefik, TODO_HOST, read_token) as todo:
            assert {tool.name for tool in await todo.list_tools()} == READ_ONLY_TODO_TOOLS
        denied = call_via_traefik(traefik, TODO_HOST, read_token, "create_task", {"title": "no"})
        assert denied.status_code == 403, denied.text
        challenge = denied.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert f'scope="{ACCESS} {WRITE}"' in challenge, challenge
        write_token = hydra_token(provider, writer, TODO_RESOURCE, ACCESS, READ, WRITE)
        async with mcp_client(traefik, TODO_HOST, write_token) as todo:
            assert {tool.name for tool in await todo.list_tools()} == ALL_TODO_TOOLS
            created = await todo.call_tool("create_task", {"title": "issued by hydra"})
        assert created.structured_content["title"] == "issued by hydra"  # type: ignore[index]

        # The gateway takes tokens for its own URL only, and serves the tools behind it.
        gateway_token = hydra_token(provider, writer, GATEWAY_RESOURCE, ACCESS)
        async with mcp_client(traefik, GATEWAY_HOST, gateway_token) as gateway:
            assert "time_get_current_time" in {tool.name for tool in await gateway.list_tools()}
            now = await gateway.call_tool("time_get_current_time", {"timezone": "Asia/Tokyo"})
        assert "Asia/Tokyo" in now.content[0].text  # type: ignore[union-attr]
        for host, token in ((GATEWAY_HOST, write_token), (TODO_HOST, gateway_token)):
            other_audience = via_traefik(traefik, host, token, "initialize", {})
            assert other_audience.status_code == 401, (host, other_audience.text)
            assert 'error="invalid_token"' in other_audience.headers["www-authenticate"]

        # The rate limit of one caller (a client of its own: the limit counts every POST).
        limited_token = hydra_token(provider, limited, TODO_RESOURCE, ACCESS, READ)
        headers, body = modern_request(
            "tools/call", {"name": "list_tasks", "arguments": {}}, limited_token
        )
        # All at once, on connections opened beforehand: one after another, a loaded node's
        # latency could spread the calls thinner than the limit's rate, and none be refused.
        async with httpx.AsyncClient(
            base_url=traefik, headers={**headers, "Host": TODO_HOST}, timeout=30
        ) as client:
            await asyncio.gather(*(client.get("/health") for _ in range(4 * PER_CALLER)))
            await asyncio.sleep(1 - time.time() % 1 + 0.05)
            burst = await asyncio.gather(
                *(client.post("/mcp", json=body) for _ in range(4 * PER_CALLER))
            )
        statuses = [response.status_code for response in burst]
        # At least the limit passes; how many more depends on how the burst falls across the
        # counter's windows (one more at a boundary, more if the node stalls it).
        assert set(statuses) == {200, 429} and statuses.count(200) >= PER_CALLER, statuses
        refused = next(response for response in burst if response.status_code == 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 2
        # Another caller is not held back.
        other = call_via_traefik(traefik, TODO_HOST, read_token, "list_tasks", {})
        assert other.status_code == 200, other.text

        # Key rotation at the provider: the running pods take tokens of the new key, and still
        # those of the old one, which Hydra keeps publishing.
        before = restarts(kube)
        assert len(before) == 3 and set(before.values()) == {0}, before
        new_kid = f"rotated-{uuid.uuid4().hex[:12]}"
        rotated = httpx.post(
            f"{provider.admin_url}/admin/keys/hydra.jwt.access-token",
            json={"alg": "RS256", "use": "sig", "kid": new_kid},
            timeout=60,
        )
        assert rotated.status_code == 201, rotated.text
        time.sleep(1.2)
        new_todo = hydra_token(provider, writer, TODO_RESOURCE, ACCESS, READ, WRITE)
        new_gateway = hydra_token(provider, writer, GATEWAY_RESOURCE, ACCESS)
        assert key_id(new_todo) == key_id(new_gateway) == new_kid != key_id(write_token)
        for host, token, tool, arguments in (
            (TODO_HOST, new_todo, "list_tasks", {}),
            (TODO_HOST, write_token, "list_tasks", {}),
            (GATEWAY_HOST, new_gateway, "time_get_current_time", {"timezone": "UTC"}),
        ):
            called = call_via_traefik(traefik, host, token, tool, arguments)
            assert called.status_code == 200, (host, called.text)
            assert '"isError":false' in called.text.replace(" ", ""), called.text
        assert restarts(kube) == before
        checked = time.monotonic() - installed_at
        print(f"oauth: installed in {installed_at - started:.0f} s, checked in {checked:.0f} s")
    finally:
        with ThreadPoolExecutor(len(releases)) as pool:
            for release in releases:
                pool.submit(kube.helm, "uninstall", release, "-n", OAUTH_NAMESPACE, check=False)
        kube.kubectl("delete", "namespace", OAUTH_NAMESPACE, "--wait=false", check=False)


# --- The reference backend, and inter-MCP calls between declared peers --------------------------
# One release in a namespace of its own: todo (SQLite, one replica), time, and the inline-code
# greeter, which declares time its peer; beside it the reference backend
# (cluster/manifests/todo-backend.yaml), whose pods todo's NetworkPolicy lists in `ingressFrom`,
# reached from the host at a NodePort, with short resilience settings so that the breaker opens
# and closes within seconds.

APPS_NAMESPACE = "mcp-apps"
APPS_RELEASE = "apps"
BACKEND_TIMEOUT = 1.0
BACKEND_THRESHOLD = 3
BACKEND_RESET = 5
BACKEND_SELECTOR = {"app.kubernetes.io/name": "todo-backend"}
OPEN_BREAKER_CALLS = 10


def apps_release_args(repo_root: Path) -> list[str]:
    todo = {
        "secrets": [],
        "autoscaling": {"enabled": False},
        "replicas": 1,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "networkPolicy.ingressFrom": [{"podSelector": {"matchLabels": BACKEND_SELECTOR}}],
    }
    values = [f"servers.todo.{key}={json.dumps(value)}" for key, value in todo.items()]
    values += ['servers.greeter.peers=["time"]', f"defaults={json.dumps(FAST)}"]
    return [
        *[arg for name in ("todo", "time", "greeter-code")
          for arg in ("-f", str(repo_root / "values" / f"{name}.yaml"))],
        *[arg for value in values for arg in ("--set-json", value)],
    ]  # fmt: skip


def backend_manifests(image: str) -> dict:
    """The backend as the demo deploys it, with the test's resilience settings and a one-second
    readiness probe."""
    resilience = {
        "TIMEOUT_SECONDS": BACKEND_TIMEOUT,
        "RETRY_ATTEMPTS": 3,
        "BREAKER_FAILURE_THRESHOLD": BACKEND_THRESHOLD,
        "BREAKER_RESET_SECONDS": BACKEND_RESET,
    }
    manifests = todo_backend_manifests(APPS_NAMESPACE, image, resilience)
    (deployment,) = (m for m in manifests["items"] if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] = 1
    return manifests


def backend_metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if match and match.group(1) == name:
            have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if labels.items() <= have.items():
                total += float(match.group(3))
    return total


def breaker_gauge(text: str) -> str:
    """The state mcp_backend_client_breaker_state{server="todo"} reports."""
    (state,) = [
        state
        for state in ("closed", "open", "half-open")
        if backend_metric(
            text, "mcp_backend_client_breaker_state", server="todo",
            mcp_backend_client_breaker_state=state,
        ) == 1
    ]  # fmt: skip
    return state


def backend_pods(kube: Kube) -> dict[str, int]:
    """Backend pod name -> container restarts."""
    return {
        name: sum(c["restartCount"] for c in pod["status"].get("containerStatuses", []))
        for name, pod in kube.pods(APPS_NAMESPACE, "app.kubernetes.io/name=todo-backend").items()
        if not pod["metadata"].get("deletionTimestamp")
    }


def smoke_in_greeter(kube: Kube, url: str, seconds: int, tool: str = "", arguments: str = "{}"):
    """The chart's smoke client, run in the greeter's pod: its NetworkPolicy applies."""
    return kube.run(
        "kubectl", "-n", APPS_NAMESPACE, "exec", "-i", "deploy/greeter-mcp", "--",
        "env", f"MCP_URL={url}", f"MCP_TEST_TOOL={tool}", f"MCP_TEST_ARGUMENTS={arguments}",
        f"MCP_TEST_TIMEOUT_SECONDS={seconds}", "python3", "-",
        input=SMOKE.read_text(), check=False, timeout=90,
    )  # fmt: skip


def test_the_backend_answers_503_while_todo_is_down_and_a_server_calls_only_declared_peers(
    repo_root: Path, kube: Kube, server_images: list[str]
) -> None:
    """The backend, with todo scaled to 0: 503 with Retry-After within its timeout; once the
    breaker is open, 503 in under 50 ms (the median of 10 calls, timed from the host) with no
    attempt on the network (its metrics: a `breaker_open` failure per call, no new `connection`
    or `timeout` one); todo back, 200 again from the same pod, never restarted. The greeter
    reaches its declared peer time at MCP_PEER_TIME_URL, and not todo, which it did not
    declare (its NetworkPolicy's egress)."""
    image = next(i for i in server_images if i.startswith("localhost/mcp-servers/todo-backend:"))
    in_apps = ("-n", APPS_NAMESPACE)
    started = time.monotonic()
    kube.kubectl("create", "namespace", APPS_NAMESPACE, check=False)
    try:
        # The backend first: it starts while helm waits for the servers.
        kube.apply(backend_manifests(image), APPS_NAMESPACE)
        kube.helm(
            "upgrade", "--install", APPS_RELEASE, str(CHART), *in_apps,
            *apps_release_args(repo_root), "--wait", "--timeout", "3m",
        )  # fmt: skip
        kube.kubectl(*in_apps, "rollout", "status", "deployment/todo-backend", "--timeout=120s")
        installed = time.monotonic()
        node_ip = kube.kubectl(
            "get", "nodes", "-o",
            'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}',
        )  # fmt: skip
        port = kube.get("service", *in_apps, "todo-backend")["spec"]["ports"][0]["nodePort"]
        backend = httpx.Client(base_url=f"http://{node_ip}:{port}", timeout=30)

        # Peers: the declared one answers a tools/call, the undeclared one is refused.
        peer_url = kube.kubectl(
            *in_apps, "exec", "deploy/greeter-mcp", "--", "printenv", "MCP_PEER_TIME_URL"
        ).strip()
        assert peer_url == f"http://time-mcp.{APPS_NAMESPACE}.svc.cluster.local:8010/mcp"
        declared = smoke_in_greeter(
            kube, peer_url, 20, "get_current_time", '{"timezone": "Asia/Tokyo"}'
        )
        assert declared.returncode == 0, declared.stdout + declared.stderr
        assert "called get_current_time" in declared.stdout, declared.stdout
        todo_url = f"http://todo-mcp.{APPS_NAMESPACE}.svc.cluster.local:8001/mcp"
        undeclared = smoke_in_greeter(kube, todo_url, 0)
        assert undeclared.returncode != 0, undeclared.stdout
        assert "Connection refused" in undeclared.stderr or "timed out" in undeclared.stderr, (
            undeclared.stderr
        )

        # The backend over todo (todo's NetworkPolicy admits it through ingressFrom).
        created = backend.post("/api/tasks", json={"title": "through the backend"})
        assert created.status_code == 201, created.text
        listed = backend.get("/api/tasks")
        assert listed.status_code == 200, listed.text
        assert [task["title"] for task in listed.json()["tasks"]] == ["through the backend"]
        (pod,) = before = backend_pods(kube)
        assert before[pod] == 0

        # todo scaled to 0: a write (one attempt) answers 503 within the timeout, and a read
        # (retried) fails the attempts that open the breaker.
        kube.kubectl(*in_apps, "scale", "deployment/todo-mcp", "--replicas=0")
        kube.kubectl(*in_apps, "wait", "--for=delete", "pod", "-l",
                     "app.kubernetes.io/name=todo", "--timeout=60s")  # fmt: skip
        began = time.perf_counter()
        down = backend.post("/api/tasks", json={"title": "while todo is down"})
        took = time.perf_counter() - began
        assert down.status_code == 503, down.text
        assert down.json() == {"error": "todo is unavailable, try again later"}
        assert int(down.headers["retry-after"]) >= 1
        assert took < BACKEND_TIMEOUT + 0.5, took
        began = time.perf_counter()
        opening = backend.get("/api/tasks")
        took = time.perf_counter() - began
        assert opening.status_code == 503, opening.text
        # Two attempts at most (the third failure opens it), each within the timeout.
        assert took < 2 * BACKEND_TIMEOUT + 1, took
        assert backend.get("/ready").json()["todo_breaker"] == "open"

        # Open: answered at once, and no call reaches for the network.
        metrics = backend.get("/metrics").text
        assert breaker_gauge(metrics) == "open"
        times, answers = [], []
        for _ in range(OPEN_BREAKER_CALLS):
            began = time.perf_counter()
            answers.append(backend.get("/api/tasks"))
            times.append(time.perf_counter() - began)
        after = backend.get("/metrics").text
        assert {answer.status_code for answer in answers} == {503}
        assert all(1 <= int(a.headers["retry-after"]) <= BACKEND_RESET for a in answers)
        # An open breaker answers without waiting for the call's timeout; the metrics below
        # show that no call reached for the network. A tighter bound measured how busy the
        # machine was (a median of 63 ms through the NodePort in one CI run, the other
        # cluster tests beside it).
        assert sorted(times)[len(times) // 2] < BACKEND_TIMEOUT / 4, times

        def failures(text: str, reason: str) -> float:
            return backend_metric(text, "mcp_backend_client_failures_total", server="todo",
                                  reason=reason)  # fmt: skip

        assert failures(after, "breaker_open") - failures(metrics, "breaker_open") == len(times)
        for reason in ("connection", "timeout"):
            assert failures(after, reason) == failures(metrics, reason), reason
        assert failures(after, "connection") + failures(after, "timeout") >= BACKEND_THRESHOLD

        # todo back: after the reset the trial call goes through and the breaker closes, in the
        # same backend process.
        kube.kubectl(*in_apps, "scale", "deployment/todo-mcp", "--replicas=1")
        kube.kubectl(*in_apps, "rollout", "status", "deployment/todo-mcp", "--timeout=90s")
        recovered = kube.wait_for(
            "the backend to answer 200 again",
            lambda: (r := backend.get("/api/tasks")).status_code == 200 and r,
            timeout=BACKEND_RESET + 20,
        )
        assert recovered.json()["total"] == 0  # a new todo pod, a new SQLite database
        assert backend.post("/api/tasks", json={"title": "after"}).status_code == 201
        assert backend.get("/ready").json()["todo_breaker"] == "closed"
        assert breaker_gauge(backend.get("/metrics").text) == "closed"
        assert backend_pods(kube) == before
        print(
            f"backend and peers: installed in {installed - started:.0f} s, "
            f"checked in {time.monotonic() - installed:.0f} s; open-breaker answers "
            f"{min(times) * 1000:.1f}-{max(times) * 1000:.1f} ms"
        )
    finally:
        kube.helm("uninstall", APPS_RELEASE, *in_apps, check=False)
        kube.kubectl("delete", "namespace", APPS_NAMESPACE, "--wait=false", check=False)


def test_cluster_down_removes_everything_it_created(repo_root: Path, kube: Kube) -> None:
    """Last in this module: takes the cluster down and looks for anything left behind."""
    provider = (repo_root / ".run" / "cluster-provider").read_text().strip()
    result = kube.run("bash", "scripts/cluster.sh", "down", check=False, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    run = repo_root / ".run"
    assert not (run / "cluster").exists()
    assert not (run / "port-forwards").exists()
    assert not (run / "cluster-provider").exists()
    if provider != "local":
        return
    names = set(kube.run("ps", "-eo", "comm=").stdout.split())
    node_processes = {"etcd", "kube-apiserver", "kube-controller", "kube-scheduler", "kubelet"}
    node_processes |= {"kube-proxy", "kube-router", "coredns", "pause"}
    assert not names & node_processes, names & node_processes
    assert str(run / "cluster") not in kube.run("ps", "-eo", "args=").stdout
    assert kube.run("ip", "link", "show", "mcpk8s0", check=False).returncode != 0
    rules = kube.run("iptables-save").stdout
    assert not re.search(r"KUBE-|CNI-", rules), re.findall(r".*(?:KUBE-|CNI-).*", rules)[:5]
    assert not re.search(r"^(KUBE-|kube-router)", kube.run("ipset", "list", "-n").stdout, re.M)
    assert str(run / "cluster") not in Path("/proc/mounts").read_text()
    assert not list(Path("/sys/fs/cgroup/memory").glob("kubepods*"))
