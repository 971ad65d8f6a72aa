"""Render the chart with the real helm and look up objects in the result."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"
CHART = REPO_ROOT / "charts" / "mcp-servers"
VALUES_DIR = REPO_ROOT / "values"
VALUES_FILES = tuple(sorted(VALUES_DIR.glob("*.yaml")))
FEATURES_VALUES = REPO_ROOT / "tests" / "chart" / "features-values.yaml"
# A third-party image that speaks HTTP itself: command override, TCP probes, no drain.
PREBUILT_VALUES = REPO_ROOT / "tests" / "chart" / "prebuilt-values.yaml"
NAMESPACE = "mcp"
RELEASE = "rel"
# kubeconform checks every render against each of these (the chart's kubeVersion is >=1.29).
KUBERNETES_VERSIONS = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"]
SCHEMA_LOCATION = str(
    REPO_ROOT
    / ".tools/schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
    / "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)


class RenderError(Exception):
    """helm refused the values; the message is helm's stderr."""


@dataclass(frozen=True)
class Render:
    text: str
    objects: tuple[dict[str, Any], ...]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [obj for obj in self.all(kind) if obj["metadata"]["name"] == name]
        if len(found) != 1:
            names = [obj["metadata"]["name"] for obj in self.all(kind)]
            raise KeyError(f"{kind}/{name}: found {len(found)} (have {names})")
        return found[0]

    def names(self, kind: str) -> set[str]:
        return {obj["metadata"]["name"] for obj in self.all(kind)}


def with_request_state_keys_masked(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`objects`, with the random key of each Secret the chart keeps for `requestState`
    (templates/secret.yaml) replaced by one placeholder: without a cluster to read it back
    from, each render makes a new one, and two renders of the same values differ there only."""
    masked = []
    for obj in objects:
        if obj["kind"] == "Secret" and obj["metadata"]["name"].endswith("-request-state"):
            obj = {**obj, "data": dict.fromkeys(obj["data"], "<random key>")}
        masked.append(obj)
    return masked


def tool(name: str, *args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS_BIN / name), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return tool("helm", *args)


def kubeconform(version: str, *paths: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """kubeconform's JSON report on rendered manifests, strict, against the offline schemas."""
    result = tool(
        "kubeconform",
        "-strict",
        "-summary",
        "-verbose",
        "-output",
        "json",
        "-kubernetes-version",
        version,
        "-schema-location",
        SCHEMA_LOCATION,
        "-skip",
        ",".join(skip),
        *map(str, paths),
    )
    return json.loads(result.stdout)


@functools.cache
def render(
    values_files: tuple[Path, ...] = (),
    set_args: tuple[str, ...] = (),
    set_json: tuple[str, ...] = (),
    release: str = RELEASE,
    extra: tuple[str, ...] = (),
) -> Render:
    """`helm template` once per distinct argument set for the whole session."""
    args = ["template", release, str(CHART), "--namespace", NAMESPACE, *extra]
    for path in values_files:
        args += ["-f", str(path)]
    for item in set_args:
        args += ["--set", item]
    for item in set_json:
        args += ["--set-json", item]
    result = helm(*args)
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    objects = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    return Render(text=result.stdout, objects=objects)


def render_error(values_files: tuple[Path, ...] = (), set_json: tuple[str, ...] = ()) -> str:
    """helm's error for values that must be rejected."""
    try:
        render(values_files, set_json=set_json)
    except RenderError as error:
        return str(error)
    raise AssertionError(f"helm accepted {values_files} {set_json}")


NOTES_PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ include "mcp-servers/templates/NOTES.txt" . | quote }}
"""


@functools.cache
def notes(values_files: tuple[Path, ...], release: str = RELEASE) -> str:
    """NOTES.txt as `helm install` prints it.

    `helm install --dry-run` needs a cluster, so a copy of the chart gets one extra template
    that includes the real NOTES.txt (helm parses it as a named template like any other).
    """
    copy = Path(tempfile.mkdtemp(prefix="chart-notes-")) / "mcp-servers"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "notes-probe.yaml").write_text(NOTES_PROBE)
    args = ["template", release, str(copy), "--namespace", NAMESPACE]
    args += ["--show-only", "templates/notes-probe.yaml"]
    for path in values_files:
        args += ["-f", str(path)]
    result = helm(*args)
    shutil.rmtree(copy.parent)
    if result.returncode != 0:
        raise RenderError(result.stderr.strip())
    return yaml.safe_load(result.stdout)["data"]["notes"]


def fleet_values(count: int) -> dict[str, Any]:
    """A release of `count` servers, cycling through the example files in values/."""
    examples = [yaml.safe_load(path.read_text())["servers"] for path in VALUES_FILES]
    servers: dict[str, Any] = {}
    for index in range(count):
        ((name, server),) = examples[index % len(examples)].items()
        servers[f"{name}-{index}"] = server
    return {"servers": servers}
