"""The chart's PodDisruptionBudget on the cluster: with 2 replicas and `maxUnavailable: 1`, the
Eviction API (policy/v1, what `kubectl drain` and cluster autoscalers call) evicts one pod,
refuses the second with 429 while the first is not replaced, and the evicted pod drains without
losing a call under load. And a pod that never gets ready can always be evicted
(`unhealthyPodEvictionPolicy`), so it cannot hold up a node drain."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kube import Kube
from release_values import FAST
from todo_load import CHART, TodoRelease, assert_no_call_lost

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


# Two replicas whose readiness never passes (a broken backend, a bad rollout): the budget allows
# no disruption, yet a drain must be able to take them.
STUCK_RELEASE = "stuck"
STUCK = {
    **FAST,
    "replicas": 2,
    "readinessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1},
}


def stuck_pods(kube: Kube) -> list[str]:
    """The release's pods that run, have passed their startup probes and are not going away: their
    status no longer changes, so an eviction's check of the pod's resourceVersion holds."""
    pods = kube.pods(NAMESPACE, f"app.kubernetes.io/instance={STUCK_RELEASE}")
    return sorted(
        name
        for name, pod in pods.items()
        if pod["status"].get("phase") == "Running"
        and not pod["metadata"].get("deletionTimestamp")
        and all(c.get("started") for c in pod["status"].get("containerStatuses", [{}]))
    )


@pytest.mark.parametrize(("policy", "evicted"), [("IfHealthyBudget", False), ("AlwaysAllow", True)])
def test_a_pod_that_never_gets_ready_is_evicted_only_with_always_allow(
    repo_root: Path, kube: Kube, todo: TodoRelease, policy: str, evicted: bool
):
    greeter = {**STUCK, "podDisruptionBudget": {"unhealthyPodEvictionPolicy": policy}}
    settings = [f"servers.greeter.{key}={json.dumps(value)}" for key, value in greeter.items()]
    kube.helm(
        "upgrade", "--install", STUCK_RELEASE, str(CHART), "-n", NAMESPACE,
        "-f", str(repo_root / "values" / "greeter-code.yaml"),
        *(arg for setting in settings for arg in ("--set-json", setting)),
    )  # fmt: skip
    try:
        kube.wait_for(
            "two running greeter pods and a budget that allows no disruption",
            lambda: (
                len(stuck_pods(kube)) == 2
                and (pdb := kube.get("pdb", "-n", NAMESPACE, "greeter-mcp"))
                .get("status", {})
                .get("observedGeneration")
                == pdb["metadata"]["generation"]
                and (pdb["status"].get("currentHealthy"), pdb["status"].get("disruptionsAllowed"))
                == (0, 0)
            ),
        )
        pod = stuck_pods(kube)[0]
        if evicted:
            # The API server deletes an unready pod only if it is unchanged since it read it, and
            # answers 429 otherwise (a late status update of the kubelet's); a drain retries.
            kube.wait_for(
                f"{pod} to be evicted although its budget allows no disruption",
                lambda: evict(kube, pod).returncode == 0,
                timeout=30,
            )
        else:
            # Refused as often as a drain would retry it in a few seconds, not once by a race.
            for _ in range(3):
                result = evict(kube, pod)
                assert result.returncode != 0 and REFUSED in result.stderr, result
                time.sleep(1)
            assert pod in stuck_pods(kube)
    finally:
        kube.helm("uninstall", STUCK_RELEASE, "-n", NAMESPACE, "--wait", check=False)
