"""The chart's PodDisruptionBudget on the cluster: with 2 replicas and `maxUnavailable: 1`, the
Eviction API (policy/v1, what `kubectl drain` and cluster autoscalers call) evicts one pod,
refuses the second with 429 while the first is not replaced, and the evicted pod drains without
losing a call under load."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kube import Kube
from todo_load import TodoRelease, assert_no_call_lost

pytestmark = pytest.mark.timeout(600)

NAMESPACE = "hpa-pdb"
# Both protocol generations, a conversation per call and clients kept open (pinned to a pod).
CLIENTS = "handshake:2,session-less:1,session-based:1"
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget"


@pytest.fixture(scope="module")
def todo(repo_root: Path, kube: Kube, server_images: list[str], in_cluster_postgresql: None):
    release = TodoRelease(kube, NAMESPACE)
    release.create_namespace()
    release.install({"replicas": 2, "podDisruptionBudget": {"maxUnavailable": 1}})
    yield release
    release.delete()


def evict(kube: Kube, pod: str):
    """POSTs a policy/v1 Eviction of `pod`; returns kubectl's result (non-zero when refused)."""
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": pod, "namespace": NAMESPACE},
    }
    return kube.run(
        "kubectl", "create", "--raw", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod}/eviction",
        "-f", "-", input=json.dumps(eviction), check=False,
    )  # fmt: skip


def budget(kube: Kube) -> dict:
    pdb = kube.get("pdb", "-n", NAMESPACE, "todo-mcp")
    assert pdb["spec"]["maxUnavailable"] == 1, pdb["spec"]
    status = pdb.get("status", {})
    current = status.get("observedGeneration") == pdb["metadata"]["generation"]
    return {**status, "current": current}


def test_the_budget_lets_one_pod_go_at_a_time_and_the_evicted_one_drains(
    kube: Kube, todo: TodoRelease
):
    began = time.monotonic()
    kube.wait_for(
        "the budget to allow one disruption of two healthy pods",
        lambda: (
            (b := budget(kube))["current"]
            and (b.get("currentHealthy"), b.get("disruptionsAllowed")) == (2, 1)
        ),
    )
    first, second = sorted(todo.ready_pods())
    todo.start_load(LOAD_CLIENTS=CLIENTS)
    time.sleep(3)

    evicted = evict(kube, first)
    assert evicted.returncode == 0, evicted.stderr
    # The eviction took the budget's one disruption: the second pod stays until the first's
    # replacement is ready.
    refused = evict(kube, second)
    assert refused.returncode != 0 and "TooManyRequests" in refused.stderr, refused
    assert REFUSED in refused.stderr, refused.stderr
    assert second in todo.ready_pods()
    print("refused:", refused.stderr.strip(), budget(kube))

    # Once the replacement is ready the budget allows the next eviction (a drain's retry loop).
    kube.wait_for(
        "the second eviction to be allowed once the first pod is replaced",
        lambda: evict(kube, second).returncode == 0,
        timeout=180,
    )
    kube.wait_for(
        "two new ready pods and no old one",
        lambda: (
            len(ready := todo.ready_pods()) == 2
            and not ready & {first, second}
            and len(todo.pods()) == 2
        ),
        timeout=180,
    )
    time.sleep(3)
    summary = todo.stop_load()
    print("load during evictions:", summary, f"{time.monotonic() - began:.0f} s")
    assert_no_call_lost(summary, at_least=20)
