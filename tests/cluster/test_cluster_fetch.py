"""values/fetch.yaml's two fences against server-side request forgery, on the cluster. A pod and
Service in the release's namespace serve a page on port 80, which the values file opens to
public addresses only. The server refuses the in-cluster URL itself, and the NetworkPolicy keeps
the page out of reach of anything in the server's pod, guard or none: a connection from it is
refused until an egress rule admits the page's pod, and then opens (the page's pod listens all
along).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from harness.catalog import entry_named
from kube import Kube
from release_values import FAST, RESTRICTED
from todo_load import CHART, CLIENT_IMAGE

pytestmark = pytest.mark.timeout(600)

NAMESPACE = "mcp-fetch"
RELEASE = "fetch"
DEPLOYMENT = "fetch-mcp"
TARGET = "intranet"
TARGET_URL = f"http://{TARGET}.{NAMESPACE}.svc/"
PAGE = "<html><body><p>For the eyes of the cluster only.</p></body></html>"


def target_manifests(image: str) -> list[dict]:
    """A pod serving PAGE on port 80 (as UID 1000: the pod lowers the privileged port range)
    and its Service."""
    labels = {"app": TARGET}
    serve = (
        f"mkdir -p /tmp/site && printf '%s' '{PAGE}' > /tmp/site/index.html"
        " && exec python3 -m http.server 80 --directory /tmp/site"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": TARGET, "labels": labels},
        "spec": {
            # python3 is PID 1, which ignores SIGTERM: no grace to wait out.
            "terminationGracePeriodSeconds": 0,
            "securityContext": {
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]
            },
            "containers": [
                {
                    "name": "web",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", serve],
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
                    "securityContext": RESTRICTED,
                }
            ],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": TARGET},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    return [pod, service]


def install(kube: Kube, repo_root: Path, *settings: tuple[str, object]) -> None:
    values = [
        f"servers.fetch.{key}={json.dumps(value)}" for key, value in (*FAST.items(), *settings)
    ]
    kube.helm(
        "upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE,
        "-f", str(repo_root / "values" / "fetch.yaml"),
        *(arg for value in values for arg in ("--set-json", value)),
        "--wait", "--timeout", "2m",
    )  # fmt: skip


def fetch_target(kube: Kube, repo_root: Path) -> tuple[bool, str]:
    """Calls `fetch` on TARGET_URL from inside the server's pod (the chart's helm test client,
    over loopback, trying once: the release is ready); returns whether it succeeded and what the
    client printed."""
    smoke = repo_root / "charts" / "mcp-servers" / "files" / "mcp-smoke.py"
    arguments = json.dumps({"url": TARGET_URL, "max_length": 500})
    result = kube.run(
        "kubectl", "-n", NAMESPACE, "exec", "-i", f"deploy/{DEPLOYMENT}", "--",
        "env", "MCP_URL=http://127.0.0.1:8010/mcp", "MCP_TEST_TOOL=fetch",
        f"MCP_TEST_ARGUMENTS={arguments}", "MCP_TEST_TIMEOUT_SECONDS=0", "python3", "-",
        input=smoke.read_text(), check=False, timeout=120,
    )  # fmt: skip
    return result.returncode == 0, result.stdout + result.stderr


def connect_from_server_pod(kube: Kube) -> str:
    """Opens a TCP connection from the server's pod to the page's port 80 (bypassing the
    server and its guard): "connected", "blocked" (kube-router rejects what a policy does not
    admit; other network plugins drop it), or the error."""
    probe = f"""
import socket
address = socket.gethostbyname("{TARGET}.{NAMESPACE}.svc")
try:
    socket.create_connection((address, 80), timeout=3).close()
except (ConnectionRefusedError, TimeoutError):
    print("blocked")
else:
    print("connected")
"""
    result = kube.run(
        "kubectl", "-n", NAMESPACE, "exec", f"deploy/{DEPLOYMENT}", "--", "python3", "-c", probe,
        check=False, timeout=60,
    )  # fmt: skip
    return result.stdout.strip() or result.stderr.strip()


def server_pods(kube: Kube) -> set[str]:
    return set(kube.pods(NAMESPACE, f"app.kubernetes.io/instance={RELEASE}"))


def test_fetch_reaches_no_cluster_address_unless_its_policy_admits_one(
    repo_root: Path, kube: Kube, server_images: list[str]
) -> None:
    fetch = entry_named("fetch")
    kube.run(
        "bash", str(repo_root / "scripts" / "cluster.sh"), "load", f"{fetch.image}:{fetch.tag}"
    )
    # A namespace left by an earlier run may still be going away.
    kube.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait")
    kube.kubectl("create", "namespace", NAMESPACE)
    try:
        for manifest in target_manifests(CLIENT_IMAGE):
            kube.apply(manifest, NAMESPACE)
        kube.kubectl(
            "-n", NAMESPACE, "wait", "pod", TARGET, "--for=condition=Ready", "--timeout=90s"
        )  # fmt: skip

        install(kube, repo_root)
        ok, said = fetch_target(kube, repo_root)
        assert not ok and "which is not a public address" in said, said
        # kube-router programs a new pod's policy within seconds of its start.
        kube.wait_for(
            "the NetworkPolicy to stop connections from the server's pod to the page",
            lambda: connect_from_server_pod(kube) == "blocked",
            timeout=60,
        )
        pods = server_pods(kube)

        shipped = yaml.safe_load((repo_root / "values" / "fetch.yaml").read_text())
        egress = shipped["servers"]["fetch"]["networkPolicy"]["egress"]
        to_target = {
            "to": [{"podSelector": {"matchLabels": {"app": TARGET}}}],
            "ports": [{"port": 80}],
        }
        install(kube, repo_root, ("networkPolicy", {"egress": [*egress, to_target]}))
        # The same pod (a policy change rolls nothing), now admitted to the page: the policy
        # was what stopped it. The server's own guard still refuses the URL.
        assert server_pods(kube) == pods
        kube.wait_for(
            "the admitted connection to open",
            lambda: connect_from_server_pod(kube) == "connected",
            timeout=60,
        )
        ok, said = fetch_target(kube, repo_root)
        assert not ok and "which is not a public address" in said, said
    finally:
        kube.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
        kube.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
