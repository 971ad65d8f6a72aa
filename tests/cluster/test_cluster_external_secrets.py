"""External secrets on the cluster: the External Secrets Operator (`scripts/cluster.sh
external-secrets`) syncs a remote key of the ClusterSecretStore `platform-secrets` into the
Secret a todo release reads, and a rotated database password reaches the running server.

Rotation, as the README documents it: the operator re-reads the remote key every
`refreshInterval` and rewrites the Secret; the pods read DATABASE_URL at start, so they keep the
old one until `kubectl rollout restart` rolls them. ct install (test_cluster.py) installs
values/todo.yaml and values/postgres.yaml unchanged with the store's seeded keys; this test
rotates a key of its own (and its own PostgreSQL role), so the others' releases never see it.
It also uses the chart's `external-secrets.io/v1beta1` choice, which the operator's v0.16 serves
beside v1 (ct install's values files use v1)."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import pytest
from conftest import run_script
from kube import Kube

pytestmark = pytest.mark.timeout(900)

NAMESPACE = "eso-rotation"
RELEASE = "eso"
PLATFORM = "platform-secrets"
REMOTE_KEY = "eso-rotation-todo"
ROLE = "eso_rotation"
DATABASE_HOST = "postgresql.databases.svc.cluster.local:5432"
TARGET = "todo-mcp"
# values/todo.yaml's entry, on this test's remote key.
SECRET = {"name": "DATABASE_URL", "remoteRef": {"key": REMOTE_KEY, "property": "database-url"}}


def database_url(password: str) -> str:
    return f"postgresql://{ROLE}:{password}@{DATABASE_HOST}/{ROLE}"


PSQL = (
    'PGPASSWORD="$POSTGRES_PASSWORD" psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt -c "$0"'
)


def psql(kube: Kube, sql: str) -> str:
    """Runs `sql` as the in-cluster PostgreSQL's superuser."""
    return kube.kubectl(
        "-n", "databases", "exec", "postgresql-0", "-c", "postgresql", "--",
        "sh", "-c", PSQL, sql,
    )  # fmt: skip


def set_remote_key(kube: Kube, password: str) -> None:
    """Writes the platform store's remote key (a Secret in namespace platform-secrets)."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": REMOTE_KEY},
        "stringData": {"database-url": database_url(password)},
    }
    kube.apply(secret, PLATFORM)


def synced_url(kube: Kube) -> str:
    result = kube.run(
        "kubectl", "-n", NAMESPACE, "get", "secret", TARGET, "-o", "json", check=False
    )
    if result.returncode != 0:
        return ""
    data = json.loads(result.stdout).get("data", {})
    return base64.b64decode(data.get("DATABASE_URL", "")).decode()


def pod_urls(kube: Kube) -> dict[str, str]:
    """Each running todo pod's DATABASE_URL, as its process sees it."""
    pods = kube.get("pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance={RELEASE}")
    urls = {}
    for pod in pods["items"]:
        if pod["metadata"].get("deletionTimestamp") or pod["status"].get("phase") != "Running":
            continue
        name = pod["metadata"]["name"]
        urls[name] = kube.kubectl(
            "-n", NAMESPACE, "exec", name, "-c", "server", "--",
            "python3", "-c", "import os; print(os.environ['DATABASE_URL'])",
        ).strip()  # fmt: skip
    return urls


@pytest.fixture(scope="module")
def platform_store(repo_root: Path, kube: Kube, in_cluster_postgresql: None) -> None:
    run_script(repo_root, "scripts/cluster.sh", "external-secrets")


@pytest.fixture(scope="module")
def first_password(kube: Kube, platform_store: None, server_images: list[str]):
    password = secrets.token_hex(12)
    psql(kube, f"DROP DATABASE IF EXISTS {ROLE}")
    psql(kube, f"DROP ROLE IF EXISTS {ROLE}")
    psql(kube, f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'")
    psql(kube, f"CREATE DATABASE {ROLE} OWNER {ROLE}")
    set_remote_key(kube, password)
    kube.kubectl("create", "namespace", NAMESPACE, check=False)
    yield password
    kube.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", check=False)
    kube.kubectl("delete", "namespace", NAMESPACE, "--timeout", "180s", check=False)
    kube.kubectl("-n", PLATFORM, "delete", "secret", REMOTE_KEY, "--ignore-not-found")
    psql(kube, f"DROP DATABASE IF EXISTS {ROLE} WITH (FORCE)")
    psql(kube, f"DROP ROLE IF EXISTS {ROLE}")


def test_the_platform_store_is_ready_and_serves_both_api_versions(
    kube: Kube, platform_store: None
) -> None:
    store = kube.get("clustersecretstore", "platform-secrets")
    ready = [c for c in store["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True", store["status"]
    versions = kube.kubectl("api-versions").split()
    assert {"external-secrets.io/v1", "external-secrets.io/v1beta1"} <= set(versions)
    # The keys values/ name are seeded: todo's is a URL of the in-cluster PostgreSQL.
    seeded = kube.get("secret", "-n", PLATFORM, "mcp-todo")["data"]["database-url"]
    assert DATABASE_HOST in base64.b64decode(seeded).decode()


def test_a_rotated_password_reaches_the_running_server(
    repo_root: Path, kube: Kube, first_password: str
) -> None:
    chart = repo_root / "charts" / "mcp-servers"
    kube.helm(
        "upgrade", "--install", RELEASE, str(chart), "-n", NAMESPACE,
        "-f", str(repo_root / "values" / "todo.yaml"),
        "--set-json", f'servers.todo.secrets=[{json.dumps(SECRET)}]',
        "--set", "servers.todo.externalSecret.apiVersion=external-secrets.io/v1beta1",
        "--set", "servers.todo.externalSecret.refreshInterval=5s",
        "--set", "servers.todo.resources.requests.cpu=100m",
        "--wait", "--timeout", "5m",
    )  # fmt: skip
    # Ready pods have reached the database (todo's /ready checks it) with the synced URL.
    assert synced_url(kube) == database_url(first_password)
    assert set(pod_urls(kube).values()) == {database_url(first_password)}

    second = secrets.token_hex(12)
    psql(kube, f"ALTER ROLE {ROLE} PASSWORD '{second}'")
    set_remote_key(kube, second)
    # The operator's refresh rewrites the Secret; the running pod still has the old URL.
    kube.wait_for(
        "the operator to sync the rotated URL", lambda: synced_url(kube) == database_url(second)
    )
    assert set(pod_urls(kube).values()) == {database_url(first_password)}

    kube.kubectl("-n", NAMESPACE, "rollout", "restart", f"deployment/{TARGET}")
    kube.kubectl("-n", NAMESPACE, "rollout", "status", f"deployment/{TARGET}", "--timeout", "300s")
    # The new pods are Ready, so they connected with the new password (the old one no longer
    # logs in), and helm test's tools/call goes through the Service to them.
    kube.wait_for(
        "only rolled pods to run", lambda: set(pod_urls(kube).values()) == {database_url(second)}
    )
    result = kube.run("helm", "test", RELEASE, "-n", NAMESPACE, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.findall(r"^Phase:\s+(\w+)", result.stdout, re.MULTILINE) == ["Succeeded"]
