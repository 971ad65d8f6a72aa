"""The release as a platform team installs it: `make release` into the project's OCI registry,
then `helm install oci://...` with the values it wrote, the node's containerd pulling every image
from the registry by digest (nothing imported by hand), and the chart's helm test passing."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import pytest
import yaml
from kube import Kube

# A release of two images (SBOMs, signatures), then pulls of both by the node.
pytestmark = pytest.mark.timeout(1200)

NAMESPACE = "oci-release"
RELEASE = "oci"
# The registry's default address, the one the local node's containerd has a hosts.toml for.
REGISTRY_PATH = "cluster-e2e"
# The local node's containerd (scripts/local-node.sh), whose images the test inspects.
CONTAINERD_SOCKET = ".run/cluster/containerd/containerd.sock"
# The stdio time server (no database) and the runtime image its helm test pod runs.
SERVERS, CATALOG = "runtime", "time"
# A release for the node's platform alone (tests/release proves the two-platform lists); its
# images are manifest lists all the same, which the node resolves to its platform.
ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]


def registry_script(repo_root: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/registry.sh", command],
        cwd=repo_root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def make(repo_root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=repo_root, capture_output=True, text=True, timeout=1200, env=os.environ | env,
    )  # fmt: skip


def test_helm_installs_the_release_from_the_registry_and_pulls_its_images_by_digest(
    repo_root: Path, kube: Kube, server_images: list[str], tmp_path: Path
) -> None:
    was_running = registry_script(repo_root, "status").returncode == 0
    started = registry_script(repo_root, "start")
    assert started.returncode == 0, started.stderr
    address = registry_script(repo_root, "url").stdout.strip()
    target = f"{address}/{REGISTRY_PATH}"
    env = {"RELEASE_DIR": str(tmp_path), "COSIGN_PASSWORD": "cluster-e2e"}
    try:
        released = make(
            repo_root, "release", f"REGISTRY={target}", f"SERVERS={SERVERS}",
            f"CATALOG={CATALOG}", f"ARCHES={ARCHES}", env=env,
        )  # fmt: skip
        assert released.returncode == 0, released.stderr[-4000:]
        pins = yaml.safe_load((tmp_path / "values.yaml").read_text())["global"]["imageDigests"]
        assert set(pins) == {"mcp-servers/runtime", "mcp-servers/time"}, pins
        verified = make(repo_root, "verify-release", f"REGISTRY={target}", f"SERVERS={SERVERS}",
                        f"CATALOG={CATALOG}", f"ARCHES={ARCHES}", env=env)  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr

        forget_pulled_images(repo_root, kube, target)
        kube.kubectl("create", "namespace", NAMESPACE, check=False)
        kube.helm(
            "install", RELEASE, f"oci://{target}/charts/mcp-servers", "--version",
            chart_version(repo_root), "--plain-http", "-n", NAMESPACE,
            "-f", str(repo_root / "values" / "time.yaml"), "-f", str(tmp_path / "values.yaml"),
            "--wait", "--timeout", "4m",
        )  # fmt: skip
        (pod,) = kube.pods(NAMESPACE, f"app.kubernetes.io/instance={RELEASE}").values()
        (container,) = pod["spec"]["containers"]
        digest = pins["mcp-servers/time"]
        assert container["image"] == f"{target}/mcp-servers/time@{digest}"
        (status,) = pod["status"]["containerStatuses"]
        assert status["imageID"].endswith(f"@{digest}"), status
        # Pulled from the registry by the node, not found among the images loaded by hand.
        events = kube.get(
            "events", "-n", NAMESPACE, "--field-selector",
            f"involvedObject.name={pod['metadata']['name']},reason=Pulled",
        )["items"]  # fmt: skip
        assert any("Successfully pulled image" in e["message"] for e in events), events

        tested = kube.helm("test", RELEASE, "-n", NAMESPACE, "--timeout", "3m")
        assert "Phase:          Succeeded" in tested, tested
        # The helm test pod (deleted once it succeeded) ran the runtime image of the release.
        runtime = f"{target}/mcp-servers/runtime@{pins['mcp-servers/runtime']}"
        events = kube.get(
            "events", "-n", NAMESPACE, "--field-selector", "involvedObject.name=time-mcp-test"
        )["items"]
        assert any(runtime in e["message"] for e in events), [e["message"] for e in events]
    finally:
        kube.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
        kube.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        # Its storage stays: the same images again add no blobs.
        if not was_running:
            registry_script(repo_root, "stop")


def forget_pulled_images(repo_root: Path, kube: Kube, target: str) -> None:
    """Removes what an earlier run pulled from `target`, so that this run's pods pull again."""
    ctr = ("ctr", "--address", str(repo_root / CONTAINERD_SOCKET), "-n", "k8s.io", "images")
    for image in kube.run(*ctr, "ls", "-q").stdout.split():
        if image.startswith(f"{target}/"):
            kube.run(*ctr, "rm", image)


def chart_version(repo_root: Path) -> str:
    chart = yaml.safe_load((repo_root / "charts" / "mcp-servers" / "Chart.yaml").read_text())
    return str(chart["version"])
