"""The HorizontalPodAutoscaler on the cluster, fed by metrics-server: todo in values/todo.yaml's
shape (1-3 replicas at 70 % of the server container's 250m CPU request) scales out under load
through its Service and back in when the load stops, losing no call while pods are added and
removed; a memory target of the whole pod (`scope: pod`) gets its metric too, and so does a
metric given as it is in `autoscaling.metrics`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from kube import Kube
from todo_load import TodoRelease, assert_no_call_lost, todo_seed

pytestmark = pytest.mark.timeout(900)

NAMESPACE = "hpa-scale"
# Kubernetes waits 300 s of lower recommendations before scaling in; a test cannot. Scaling out
# stays Kubernetes' default (at once, up to doubling or 4 pods per 15 s).
BEHAVIOR = {"scaleDown": {"stabilizationWindowSeconds": 15}}
# The light load's clients, of both protocol generations: a conversation per call, and clients
# kept open, pinned to whichever pod their connection reached (maybe one that is removed).
LIGHT_CLIENTS = "handshake:1,session-less:1,session-based:1"


@pytest.fixture(scope="module")
def todo(
    repo_root: Path,
    kube: Kube,
    server_images: list[str],
    in_cluster_postgresql: None,
    metrics_server: None,
):
    release = TodoRelease(kube, NAMESPACE)
    release.create_namespace()
    seed = todo_seed()
    release.install(
        {
            "resources": seed["resources"],
            "autoscaling": {**seed["autoscaling"], "behavior": BEHAVIOR},
        }
    )
    yield release
    release.delete()


def hpa_status(kube: Kube) -> dict:
    return kube.get("hpa", "-n", NAMESPACE, "todo-mcp").get("status", {})


def current(status: dict, resource: str, kind: str = "containerResource") -> int | None:
    """The average utilisation of `resource` the autoscaler last read, in % of the request: of
    the server container (`containerResource`) or of the pod (`resource`)."""
    for metric in status.get("currentMetrics") or []:
        if metric.get(kind, {}).get("name") == resource:
            return metric[kind]["current"].get("averageUtilization")
    return None


def test_todo_scales_out_under_load_and_back_in_losing_no_call(kube: Kube, todo: TodoRelease):
    seed = todo_seed()["autoscaling"]
    assert (seed["minReplicas"], seed["maxReplicas"], seed["targetCPUUtilizationPercentage"]) == (
        1, 3, 70,
    )  # fmt: skip
    began = time.monotonic()
    # The resource metrics API answers for the release's pods (what `kubectl top pods` shows).
    top = kube.wait_for(
        "kubectl top to show todo's pod",
        lambda: (
            (r := kube.run("kubectl", "top", "pods", "-n", NAMESPACE, "--no-headers", check=False))
            .returncode == 0 and "todo-mcp" in r.stdout and r.stdout
        ),
        timeout=120,
    )  # fmt: skip
    print("kubectl top pods:", top.strip())
    kube.wait_for(
        "the autoscaler to read CPU", lambda: current(hpa_status(kube), "cpu") is not None
    )
    assert todo.replicas() == 1

    # A light load runs from before the first pod is added until after the last is removed; a
    # heavy one drives the scale-out and stops.
    todo.start_load("light", LOAD_CLIENTS=LIGHT_CLIENTS, LOAD_PAUSE_SECONDS="0.5")
    todo.start_load("heavy", LOAD_CLIENTS="handshake:6")
    kube.wait_for("todo to scale out to 3 pods", lambda: len(todo.ready_pods()) == 3, timeout=300)
    scaled_out = time.monotonic() - began
    status = hpa_status(kube)
    print("scaled out:", status)
    # Every pod takes calls before the heavy load stops.
    time.sleep(5)
    heavy = todo.stop_load("heavy")
    print("heavy load:", heavy)
    assert_no_call_lost(heavy, at_least=50)

    kube.wait_for(
        "todo to scale back in to 1 pod",
        lambda: todo.replicas() == 1 and len(todo.pods()) == 1,
        timeout=300,
    )
    scaled_in = time.monotonic() - began
    light = todo.stop_load("light")
    print("light load:", light)
    assert_no_call_lost(light, at_least=10)
    print(f"scaled out after {scaled_out:.0f} s, back in after {scaled_in:.0f} s")


def test_a_memory_target_gets_its_metric_and_scales(kube: Kube, todo: TodoRelease):
    """A target far below what an idle todo uses (about a third of its 256Mi request) must
    make the autoscaler, reading memory from metrics-server, want more pods."""
    seed = todo_seed()
    todo.install(
        {
            "resources": seed["resources"],
            "autoscaling": {
                **seed["autoscaling"],
                "scope": "pod",
                "targetMemoryUtilizationPercentage": 10,
                "behavior": BEHAVIOR,
            },
        }
    )
    status = kube.wait_for(
        "the autoscaler to read memory",
        lambda: (s := hpa_status(kube)) and current(s, "memory", "resource") is not None and s,
        timeout=120,
    )
    assert current(status, "memory", "resource") > 10, status
    kube.wait_for("memory to scale todo out", lambda: todo.replicas() > 1, timeout=120)
    hpa = kube.kubectl("get", "hpa", "-n", NAMESPACE, "todo-mcp", "--no-headers")
    print("kubectl get hpa:", hpa.strip())
    assert "memory: " in hpa and "/10%" in hpa, hpa


def test_a_metric_given_as_it_is_drives_the_autoscaler(kube: Kube, todo: TodoRelease):
    """`autoscaling.metrics` alone (no CPU target): the server container's memory against an
    average value far below what an idle todo uses makes the autoscaler want more pods."""
    seed = todo_seed()
    memory = {
        "type": "ContainerResource",
        "containerResource": {
            "name": "memory",
            "container": "server",
            "target": {"type": "AverageValue", "averageValue": "10Mi"},
        },
    }
    todo.install(
        {
            "resources": seed["resources"],
            "autoscaling": {
                **seed["autoscaling"],
                "targetCPUUtilizationPercentage": 0,
                "metrics": [memory],
                "behavior": BEHAVIOR,
            },
        }
    )
    spec = kube.get("hpa", "-n", NAMESPACE, "todo-mcp")["spec"]
    assert spec["metrics"] == [memory]
    # The status that shows the metric read is the one whose wanted replicas it decided (the
    # memory test before may have left more than one pod).
    status = kube.wait_for(
        "the autoscaler to read the server container's memory",
        lambda: (
            (s := hpa_status(kube))
            and [m.get("type") for m in s.get("currentMetrics") or []] == ["ContainerResource"]
            and s
        ),
        timeout=120,
    )  # fmt: skip
    (read,) = status["currentMetrics"]
    assert read["containerResource"]["container"] == "server", status
    assert quantity(read["containerResource"]["current"]["averageValue"]) > 10 * 2**20, status
    assert status["desiredReplicas"] > 1, status
    kube.wait_for("the metric to scale todo out", lambda: todo.replicas() > 1, timeout=120)


def quantity(text: str) -> float:
    """A Kubernetes quantity as the API prints a memory value ("91136Ki", "93323264")."""
    suffixes = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3}
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)
