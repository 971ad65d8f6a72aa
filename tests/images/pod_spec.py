"""The server container of a chart-rendered pod, as the facts `docker run` needs to run it alike."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class PodSpec:
    """What the chart asks of the `server` container of one server's Deployment."""

    image: str
    port: int
    metrics_port: int
    env: dict[str, str]
    secret_keys: tuple[str, ...]
    files: dict[str, str]  # container path -> content, from the mounted ConfigMaps
    tmpfs: tuple[str, ...]  # emptyDir and claim mount paths
    security_context: dict[str, Any]
    pre_stop: tuple[str, ...]
    grace_seconds: int
    test_tool: str = ""
    test_arguments: dict[str, Any] = field(default_factory=dict)


def render(repo_root: Path, values_file: str) -> list[dict[str, Any]]:
    """`helm template` one values file of values/ through the chart."""
    out = subprocess.run(
        [
            "helm",
            "template",
            "contract",
            str(repo_root / "charts" / "mcp-servers"),
            "-f",
            str(repo_root / "values" / values_file),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc.get("kind") == kind]


def _config_maps(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {cm["metadata"]["name"]: cm.get("data", {}) for cm in _by_kind(docs, "ConfigMap")}


def _mounted_files(
    pod: dict[str, Any], container: dict[str, Any], config_maps: dict[str, dict[str, str]]
) -> tuple[dict[str, str], tuple[str, ...]]:
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    files: dict[str, str] = {}
    tmpfs: list[str] = []
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        # A new claim is an empty directory too (docker's tmpfs is world-writable like a claim
        # with the pod's fsGroup); tests/cluster proves real claims.
        if "emptyDir" in volume or "persistentVolumeClaim" in volume:
            tmpfs.append(mount["mountPath"])
        elif "configMap" in volume:
            data = config_maps[volume["configMap"]["name"]]
            items = volume["configMap"].get("items") or [{"key": k, "path": k} for k in data]
            for item in items:
                files[f"{mount['mountPath']}/{item['path']}"] = data[item["key"]]
        else:
            raise AssertionError(f"volume {mount['name']}: no docker equivalent in this test")
    return files, tuple(tmpfs)


def pod_spec(repo_root: Path, values_file: str) -> PodSpec:
    """The single server Deployment (and its helm test pod) rendered from `values_file`."""
    docs = render(repo_root, values_file)
    (deployment,) = _by_kind(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "server"]
    config_maps = _config_maps(docs)

    env: dict[str, str] = {}
    for var in container.get("env", []):
        ref = var.get("valueFrom", {}).get("configMapKeyRef")
        if ref:
            env[var["name"]] = config_maps[ref["name"]][ref["key"]]
        elif "value" in var:
            env[var["name"]] = var["value"]

    secret_keys = tuple(
        item["secretKey"] for es in _by_kind(docs, "ExternalSecret") for item in es["spec"]["data"]
    )
    files, tmpfs = _mounted_files(pod, container, config_maps)
    pre_stop = tuple(
        container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    )

    test_env: dict[str, str] = {}
    for test_pod in _by_kind(docs, "Pod"):
        test_env = {v["name"]: v.get("value", "") for v in test_pod["spec"]["containers"][0]["env"]}

    ports = {p["name"]: int(p["containerPort"]) for p in container["ports"]}
    return PodSpec(
        image=container["image"],
        port=ports["http"],
        metrics_port=ports["metrics"],
        env=env,
        secret_keys=secret_keys,
        files=files,
        tmpfs=tmpfs,
        security_context=container.get("securityContext", {}),
        pre_stop=pre_stop,
        grace_seconds=int(pod.get("terminationGracePeriodSeconds", 30)),
        test_tool=test_env.get("MCP_TEST_TOOL", ""),
        test_arguments=json.loads(test_env.get("MCP_TEST_ARGUMENTS") or "{}"),
    )
