"""Every render is valid Kubernetes (kubeconform, 1.29 to 1.34), the custom resources carry
their required fields, checkov finds nothing, `ct lint` passes and the docs are in sync."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from crd_schemas import CRD_SCHEMAS
from helm_render import CHART, REPO_ROOT, TOOLS_BIN, Render

KUBERNETES_VERSIONS = ["1.29.0", "1.30.0", "1.31.0", "1.32.0", "1.33.0", "1.34.0"]
SCHEMA_LOCATION = str(
    REPO_ROOT
    / ".tools/schemas/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}"
    / "{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
CHECKOV_CONFIG = Path(__file__).with_name("checkov.yaml")
# Checks the helm test pod skips by annotation (reasons on the pod itself).
TEST_POD_SKIPS = {"CKV_K8S_8", "CKV_K8S_9", "CKV2_K8S_6"}


def tool(name: str, *args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOOLS_BIN / name), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


def kubeconform(version: str, *paths: Path) -> dict[str, Any]:
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
        ",".join(CRD_SCHEMAS),
        *map(str, paths),
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def rendered_dir(all_renders: dict[str, Render], tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("rendered")
    for name, result in all_renders.items():
        (directory / f"{name}.yaml").write_text(result.text)
    return directory


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubeconform_strict(version: str, rendered_dir: Path, all_renders: dict[str, Render]):
    report = kubeconform(version, rendered_dir)
    statuses = {(r["kind"], r["name"], r["filename"]): r["status"] for r in report["resources"]}
    problems = [
        r for r in report["resources"] if r["status"] not in {"statusValid", "statusSkipped"}
    ]
    assert problems == [], f"{len(problems)} not valid, e.g. {problems[0]}"
    expected = sum(
        1
        for result in all_renders.values()
        for obj in result.objects
        if obj["kind"] not in CRD_SCHEMAS
    )
    assert report["summary"]["valid"] == expected, statuses
    assert report["summary"]["skipped"] == sum(
        1 for result in all_renders.values() for obj in result.objects if obj["kind"] in CRD_SCHEMAS
    )


def test_kubeconform_rejects_an_unknown_field(fleet: Render, tmp_path: Path):
    """The strict schemas really load: an unknown container field fails validation."""
    deployment = copy.deepcopy(fleet.get("Deployment", "todo-mcp"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(deployment))
    report = kubeconform(KUBERNETES_VERSIONS[0], path)
    (resource,) = report["resources"]
    assert resource["status"] == "statusInvalid"
    assert "imagePullPolicyy" in resource["msg"]


def test_custom_resources_have_their_required_fields(all_renders: dict[str, Render]):
    seen: set[tuple[str, str]] = set()
    for result in all_renders.values():
        for obj in result.objects:
            if obj["kind"] in CRD_SCHEMAS:
                jsonschema.validate(obj, CRD_SCHEMAS[obj["kind"]])
                seen.add((obj["kind"], obj["apiVersion"]))
    assert seen == {
        ("ExternalSecret", "external-secrets.io/v1"),
        ("ExternalSecret", "external-secrets.io/v1beta1"),
        ("ServiceMonitor", "monitoring.coreos.com/v1"),
        ("PrometheusRule", "monitoring.coreos.com/v1"),
    }


@pytest.mark.parametrize(
    ("kind", "path", "message"),
    [
        ("ExternalSecret", ("spec", "secretStoreRef"), "'secretStoreRef' is a required property"),
        ("ServiceMonitor", ("spec", "selector"), "'selector' is a required property"),
        ("PrometheusRule", ("spec", "groups"), "'groups' is a required property"),
    ],
)
def test_custom_resource_schemas_catch_a_missing_field(fleet: Render, kind, path, message):
    obj = copy.deepcopy(fleet.all(kind)[0])
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(jsonschema.ValidationError, match=message):
        jsonschema.validate(obj, CRD_SCHEMAS[kind])


@pytest.fixture(scope="session")
def checkov_report(fleet: Render, features: Render, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("checkov")
    (directory / "fleet.yaml").write_text(fleet.text)
    (directory / "features.yaml").write_text(features.text)
    result = tool(
        "checkov", "--config-file", str(CHECKOV_CONFIG), "-d", str(directory), "-o", "json"
    )
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_finds_nothing(checkov_report: dict[str, Any]):
    failed = [
        (check["check_id"], check["resource"])
        for check in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 300


def test_checkov_skips_only_what_is_justified(checkov_report: dict[str, Any]):
    skipped = checkov_report["results"]["skipped_checks"]
    assert {check["check_id"] for check in skipped} <= TEST_POD_SKIPS
    assert {check["resource"].split(".")[0] for check in skipped} == {"Pod"}
    passed = {(c["check_id"], c["resource"]) for c in checkov_report["results"]["passed_checks"]}
    for must_pass in ("CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_28", "CKV_K8S_37", "CKV_K8S_38"):
        assert (must_pass, "Deployment.mcp.todo-mcp") in passed, must_pass


def test_ct_lint_covers_every_values_file():
    result = tool("ct", "lint", "--config", "ct.yaml", "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    for values_file in sorted((CHART / "ci").glob("*-values.yaml")):
        assert f'Linting chart with values file "charts/mcp-servers/ci/{values_file.name}"' in (
            result.stdout
        )
    assert "All charts linted successfully" in result.stdout


def test_ct_values_files_follow_the_example_files():
    """Each ci/ file is values/<name>.yaml, linked or adapted to the CI cluster; no new server."""
    ci_files = sorted((CHART / "ci").glob("*-values.yaml"))
    assert ci_files
    for path in ci_files:
        example = REPO_ROOT / "values" / f"{path.name.removesuffix('-values.yaml')}.yaml"
        assert example.is_file(), f"{path.name} has no values/{example.name}"
        if path.is_symlink():
            assert path.resolve() == example.resolve()
            continue
        assert path.read_text().startswith("# ct install on the CI cluster"), path.name
        ours, theirs = (yaml.safe_load(p.read_text())["servers"] for p in (path, example))
        assert ours.keys() == theirs.keys(), path.name
        for name, server in ours.items():
            assert server["image"] == theirs[name]["image"], (path.name, name)
            assert server["port"] == theirs[name]["port"], (path.name, name)


def test_chart_docs_are_in_sync():
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "chart-docs.sh"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    copy_dir = tmp_path / "charts" / "mcp-servers"
    shutil.copytree(CHART, copy_dir, symlinks=True)
    return copy_dir


def run_chart_docs_check(chart: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "chart-docs.sh"), "--check", str(chart)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_chart_docs_check_fails_on_a_stale_readme(chart_copy: Path):
    values = chart_copy / "values.yaml"
    values.write_text(values.read_text().replace("Replica count when autoscaling is off.", "Pods."))
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert "README.md is stale" in result.stderr
    assert "run 'make chart-docs'" in result.stderr


def test_chart_docs_check_fails_on_a_schema_key_values_yaml_lacks(chart_copy: Path):
    schema_path = chart_copy / "values.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["definitions"]["server"]["properties"]["shmSize"] = {"type": "string"}
    schema_path.write_text(json.dumps(schema))
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert "values.schema.json describes defaults.shmSize, which values.yaml" in result.stderr


def test_chart_docs_check_fails_on_a_values_key_the_schema_lacks(chart_copy: Path):
    schema_path = chart_copy / "values.schema.json"
    schema = json.loads(schema_path.read_text())
    del schema["definitions"]["server"]["properties"]["priorityClassName"]
    schema_path.write_text(json.dumps(schema))
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert "values.yaml sets defaults.priorityClassName, which values.schema.json" in result.stderr


def test_schema_is_self_contained():
    text = (CHART / "values.schema.json").read_text()
    refs = [line for line in text.splitlines() if '"$ref"' in line]
    assert refs and all('"#/definitions/' in line for line in refs)
