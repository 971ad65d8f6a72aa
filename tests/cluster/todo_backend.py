"""The reference backend's manifests (cluster/manifests/todo-backend.yaml) as the cluster tests
deploy it: filled in like the demo does, with the test's resilience settings and a NodePort."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "cluster" / "manifests" / "todo-backend.yaml"


def todo_backend_manifests(namespace: str, image: str, resilience: dict[str, int]) -> dict:
    """A v1 List of the Deployment, Service (NodePort) and NetworkPolicy, the backend calling
    todo in `namespace`, each `resilience` key set as TODO_BACKEND_RESILIENCE__<KEY>."""
    todo_url = f"http://todo-mcp.{namespace}.svc.cluster.local:8001"
    text = MANIFESTS.read_text().replace("@IMAGE@", image).replace("@TODO_URL@", todo_url)
    manifests = list(yaml.safe_load_all(text))
    deployment, service = (
        next(m for m in manifests if m["kind"] == kind) for kind in ("Deployment", "Service")
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    for key, value in resilience.items():
        name = f"TODO_BACKEND_RESILIENCE__{key}"
        env[name] = {"name": name, "value": str(value)}
    container["env"] = list(env.values())
    service["spec"]["type"] = "NodePort"
    return {"apiVersion": "v1", "kind": "List", "items": manifests}
