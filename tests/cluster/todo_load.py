"""A todo release in a namespace of its own, and load_calls.py in a pod calling it through its
Service: for the cluster tests that add, replace or remove pods under load (autoscaling,
evictions, a stateful server's rollout)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kube import Kube
from release_values import RESTRICTED

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "mcp-servers"
# values/todo.yaml with cluster/values/todo.yaml (two fixed replicas, DATABASE_URL from
# cluster/manifests/database-secrets.yaml): the base that each test overrides.
TODO_VALUES = (REPO / "values" / "todo.yaml", REPO / "cluster" / "values" / "todo.yaml")
CLIENT_IMAGE = "localhost/mcp-servers/runtime:0.1.0"
MCP_TIER = {"app.kubernetes.io/part-of": "mcp-servers"}
LOAD_SOURCES = {
    "mcp_smoke.py": CHART / "files" / "mcp-smoke.py",
    "load_calls.py": Path(__file__).parent / "load_calls.py",
}


def todo_seed() -> dict[str, Any]:
    """values/todo.yaml's todo entry: the shape (resources, autoscaling) users deploy."""
    return yaml.safe_load((REPO / "values" / "todo.yaml").read_text())["servers"]["todo"]


@dataclass
class TodoRelease:
    kube: Kube
    namespace: str
    release: str = "todo"

    @property
    def url(self) -> str:
        return f"http://todo-mcp.{self.namespace}.svc.cluster.local:8001/mcp"

    def create_namespace(self) -> None:
        self.kube.kubectl("create", "namespace", self.namespace, check=False)
        secrets = REPO / "cluster" / "manifests" / "database-secrets.yaml"
        self.kube.kubectl("-n", self.namespace, "apply", "-f", str(secrets))

    def install(self, todo: dict[str, Any], *extra: str) -> None:
        """helm upgrade --install of TODO_VALUES with `todo` merged over its entry."""
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
            yaml.safe_dump({"servers": {"todo": todo}}, values)
            values.flush()
            self.kube.helm(
                "upgrade", "--install", self.release, str(CHART), "-n", self.namespace,
                *(arg for path in TODO_VALUES for arg in ("-f", str(path))),
                "-f", values.name, *extra, "--wait", "--timeout", "5m",
            )  # fmt: skip

    def delete(self) -> None:
        self.kube.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)

    def pods(self) -> dict[str, dict]:
        return self.kube.pods(
            self.namespace, f"app.kubernetes.io/instance={self.release},app.kubernetes.io/name=todo"
        )

    def ready_pods(self) -> set[str]:
        return {
            name
            for name, pod in self.pods().items()
            if not pod["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in pod["status"].get("conditions", [])
            )
        }

    def replicas(self) -> int:
        """The Deployment's wanted replicas (what an autoscaler sets)."""
        return self.kube.get("deployment", "-n", self.namespace, "todo-mcp")["spec"]["replicas"]

    def start_load(self, name: str = "load", **env: str) -> None:
        """Starts load_calls.py in pod `name` (an MCP-tier pod, which the NetworkPolicy admits)
        and waits until it calls; env: LOAD_CLIENTS, LOAD_PAUSE_SECONDS, LOAD_REINITIALIZE."""
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "load-calls"},
            "data": {key: path.read_text() for key, path in LOAD_SOURCES.items()},
        }
        self.kube.apply(configmap, self.namespace)
        self.kube.kubectl(
            "-n", self.namespace, "delete", "pod", name, "--ignore-not-found", "--wait"
        )
        self.kube.apply(load_pod(name, {"MCP_URL": self.url, **env}), self.namespace)
        self.kube.wait_for(
            f"load {name} to start",
            lambda: self.kube.run(
                "kubectl", "-n", self.namespace, "exec", name, "--", "test", "-e", "/tmp/started",
                check=False,
            ).returncode == 0,
            timeout=180,
        )  # fmt: skip

    def stop_load(self, name: str = "load") -> dict[str, Any]:
        """Stops the load, waits for its read-back, returns its summary."""
        self.kube.kubectl("-n", self.namespace, "exec", name, "--", "touch", "/tmp/stop")
        phase = self.kube.wait_for(
            f"load {name} to finish",
            lambda: (
                (p := self.kube.pod_phase(self.namespace, name)) in ("Succeeded", "Failed") and p
            ),
            timeout=180,
        )
        logs = self.kube.kubectl("-n", self.namespace, "logs", name)
        assert phase == "Succeeded", logs[-3000:]
        return json.loads(logs.strip().splitlines()[-1])


def load_pod(name: str, env: dict[str, str]) -> dict[str, Any]:
    """A pod running load_calls.py with the runtime image's python3 (FastMCP included)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": MCP_TIER},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "load",
                    "image": CLIENT_IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["python3", "load_calls.py"],
                    "workingDir": "/load",
                    "env": [{"name": key, "value": value} for key, value in env.items()],
                    "volumeMounts": [{"name": "load", "mountPath": "/load"}],
                    "securityContext": RESTRICTED,
                }
            ],
            "volumes": [{"name": "load", "configMap": {"name": "load-calls"}}],
        },
    }


def assert_no_call_lost(summary: dict[str, Any], at_least: int) -> None:
    """Every call the load made succeeded, every task it created reads back, and each kind of
    client made calls."""
    assert summary["failure_count"] == 0, summary
    assert summary["missing"] == [], summary
    assert summary["created"] >= at_least, summary
    for kind, tally in summary["kinds"].items():
        assert tally["created"] > 0, (kind, summary)
