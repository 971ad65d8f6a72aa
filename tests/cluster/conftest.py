"""The cluster from `make cluster-up` (kind or the local node), with the server images loaded.

Session-scoped: brought up once (a few seconds when it already runs), left running for
`make demo` or a rerun; `make cluster-down` removes it.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness.locks import locked
from kube import Kube


def run_script(repo_root: Path, *args: str) -> str:
    # The pytest-xdist workers share one cluster: one runs a step, the next finds it done.
    step = "-".join(Path(arg).stem for arg in args[:2])
    with locked(f"cluster-{step}"):
        result = subprocess.run(
            ["bash", *args], cwd=repo_root, capture_output=True, text=True, timeout=3600
        )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def kube(repo_root: Path) -> Kube:
    run_script(repo_root, "scripts/install-tools.sh", "cluster")
    run_script(repo_root, "scripts/cluster.sh", "up")
    return Kube(repo_root / ".run" / "cluster" / "kubeconfig")


@pytest.fixture(scope="session")
def server_images(repo_root: Path, kube: Kube) -> list[str]:
    """Builds the images (incremental) and loads the servers', the runnable catalog entries' and
    the reference backend's into the cluster."""
    # `make test` has just built them (a second build-images.sh is a minute of no-ops).
    if os.environ.get("MCP_SERVERS_IMAGES_BUILT") != "1":
        run_script(repo_root, "scripts/build-images.sh")
    # The Makefile's list, which `make test` and cluster-load load too.
    listed = subprocess.run(
        ["make", "--no-print-directory", "-s", "cluster-images"],
        cwd=repo_root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    images = listed.stdout.split()
    run_script(repo_root, "scripts/cluster.sh", "load", *images)
    return images


@pytest.fixture(scope="session")
def in_cluster_postgresql(repo_root: Path, kube: Kube) -> None:
    run_script(repo_root, "scripts/cluster.sh", "postgresql")


@pytest.fixture(scope="session")
def ingress_controller(repo_root: Path, kube: Kube) -> str:
    """Traefik on the cluster (`scripts/cluster.sh ingress`): IngressClass and GatewayClass
    `traefik`, Gateway `mcp` in namespace `ingress` (HTTP, routes from every namespace). Returns
    the base URL the host reaches it at, http://10.244.0.1:30080 on the local node; the Host
    header picks the route."""
    output = run_script(repo_root, "scripts/cluster.sh", "ingress")
    url = re.search(r"^http://\S+$", output, re.MULTILINE)
    assert url, output[-2000:]
    return url.group(0)


@pytest.fixture(scope="session")
def metrics_server(repo_root: Path, kube: Kube) -> None:
    """metrics-server in kube-system (`scripts/cluster.sh metrics-server`): the resource metrics
    API (metrics.k8s.io/v1beta1) that HorizontalPodAutoscalers read, at a 10 s resolution."""
    run_script(repo_root, "scripts/cluster.sh", "metrics-server")


@dataclass(frozen=True)
class TraceBackend:
    """Jaeger's all-in-one on the cluster: `otlp_endpoint` as pods send to it (a server's
    tracing.endpoint), `query_url` as the host reads traces (a NodePort)."""

    otlp_endpoint: str
    query_url: str


@pytest.fixture(scope="session")
def trace_backend(repo_root: Path, kube: Kube) -> TraceBackend:
    """Jaeger in namespace `tracing` (`scripts/cluster.sh tracing`), traces in memory, shared
    by the session: a test looks up the trace ids it made."""
    output = run_script(repo_root, "scripts/cluster.sh", "tracing")
    urls = dict(re.findall(r"^(otlp|query)=(http://\S+)$", output, re.MULTILINE))
    assert set(urls) == {"otlp", "query"}, output[-2000:]
    return TraceBackend(urls["otlp"], urls["query"])


@dataclass(frozen=True)
class OidcProvider:
    """Ory Hydra on the cluster: `issuer` as pods reach it and tokens carry it; `public_url` and
    `admin_url` as the host reaches them (NodePorts)."""

    issuer: str
    public_url: str
    admin_url: str

    @property
    def jwks_uri(self) -> str:
        """As pods fetch it."""
        return f"{self.issuer}/.well-known/jwks.json"


@pytest.fixture(scope="session")
def oidc_provider(repo_root: Path, kube: Kube) -> OidcProvider:
    """Ory Hydra in namespace `oidc` (`scripts/cluster.sh oidc`): client-credentials JWT access
    tokens signed by keys of its JWKS. Its database is in memory, and the session shares one
    pod: a test registers clients of its own and must not count on a fixed key set."""
    output = run_script(repo_root, "scripts/cluster.sh", "oidc")
    urls = dict(re.findall(r"^(issuer|public|admin)=(http://\S+)$", output, re.MULTILINE))
    assert set(urls) == {"issuer", "public", "admin"}, output[-2000:]
    return OidcProvider(urls["issuer"], urls["public"], urls["admin"])
