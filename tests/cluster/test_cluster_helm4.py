"""Helm 4 installs, tests, upgrades and removes a release of the chart on the cluster, as Helm 3
does in the other cluster tests (tests/chart/test_chart_helm4.py holds their renders equal)."""

from __future__ import annotations

from pathlib import Path

from kube import Kube

NAMESPACE = "helm4-time"
RELEASE = "helm4"


def test_helm4_installs_tests_upgrades_and_uninstalls_a_release(
    repo_root: Path, kube: Kube, server_images: list[str]
) -> None:
    chart = str(repo_root / "charts" / "mcp-servers")
    values = str(repo_root / "values" / "time.yaml")
    kube.kubectl("create", "namespace", NAMESPACE, check=False)
    try:
        kube.run(
            "helm4", "install", RELEASE, chart, "-n", NAMESPACE, "-f", values,
            "--wait", "--timeout", "3m",
        )  # fmt: skip
        status = kube.run("helm4", "status", RELEASE, "-n", NAMESPACE).stdout
        assert "STATUS: deployed" in status, status
        # The chart's helm test pod calls one of the server's tools over MCP.
        tested = kube.run("helm4", "test", RELEASE, "-n", NAMESPACE, "--timeout", "3m").stdout
        assert "Phase:          Succeeded" in tested, tested
        kube.run(
            "helm4", "upgrade", RELEASE, chart, "-n", NAMESPACE, "-f", values,
            "--set", "servers.time.replicas=2", "--wait", "--timeout", "3m",
        )  # fmt: skip
        deployment = kube.get("deployment", "-n", NAMESPACE, "time-mcp")
        assert deployment["status"].get("readyReplicas") == 2, deployment["status"]
        history = kube.run("helm4", "history", RELEASE, "-n", NAMESPACE).stdout
        assert len(history.strip().splitlines()) == 3, history  # header + two revisions
    finally:
        kube.run("helm4", "uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
    assert not kube.get("deployments", "-n", NAMESPACE)["items"]
