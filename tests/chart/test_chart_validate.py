"""Every render is valid Kubernetes (kubeconform, 1.29 to 1.34), the custom resources carry
their required fields, checkov finds nothing, `ct lint` passes and the docs are in sync."""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from crd_schemas import CRD_SCHEMAS
from harness.catalog import load_catalog
from helm_render import CHART, KUBERNETES_VERSIONS, REPO_ROOT, Render, tool
from helm_render import kubeconform as kubeconform_report

CHECKOV_CONFIG = Path(__file__).with_name("checkov.yaml")
# Checks the helm test pod skips by annotation (reasons on the pod itself).
TEST_POD_SKIPS = {"CKV_K8S_8", "CKV_K8S_9", "CKV2_K8S_6"}


def kubeconform(version: str, *paths: Path) -> dict[str, Any]:
    return kubeconform_report(version, *paths, skip=tuple(CRD_SCHEMAS))


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
        ("HTTPRoute", "gateway.networking.k8s.io/v1"),
        ("InfisicalSecret", "secrets.infisical.com/v1alpha1"),
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


def example_files(ci_file: Path) -> list[Path]:
    """The values/ files a ci/ file adapts: values/<name>.yaml, or for catalog-values.yaml every
    catalog entry that runs here."""
    name = ci_file.name.removesuffix("-values.yaml")
    if name == "catalog":
        return [REPO_ROOT / entry.values for entry in load_catalog() if entry.runnable]
    return [REPO_ROOT / "values" / f"{name}.yaml"]


def test_ct_values_files_follow_the_example_files():
    """Each ci/ file is values/ files adapted to the CI cluster; no new server."""
    ci_files = sorted((CHART / "ci").glob("*-values.yaml"))
    assert ci_files
    for path in ci_files:
        examples = example_files(path)
        for example in examples:
            assert example.is_file(), f"{path.name} has no {example.relative_to(REPO_ROOT)}"
        if path.is_symlink():
            assert [path.resolve()] == [example.resolve() for example in examples]
            continue
        comment = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            comment.append(line)
        # The schema line, the generator's note, then the overlay's own comment.
        assert comment[1].startswith("# Generated by scripts/ci_values.py"), path.name
        assert any(line.startswith("# ct install on the CI cluster") for line in comment), path.name
        ours = yaml.safe_load(path.read_text())["servers"]
        theirs = {
            name: server
            for example in examples
            for name, server in yaml.safe_load(example.read_text())["servers"].items()
        }
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


def run_chart_docs(chart: Path) -> subprocess.CompletedProcess[str]:
    """scripts/chart-docs.sh in write mode: README, Kubernetes definitions and descriptions."""
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "chart-docs.sh"), str(chart)],
        capture_output=True,
        text=True,
        check=False,
    )


def schema_properties(node: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, node) of every schema property outside the generated Kubernetes
    definitions, at any depth (server keys, list items, `oneOf` branches)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from schema_properties(item, f"{pointer}/{index}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{pointer}/{key}"
        if pointer == "" and key == "definitions":
            for name, definition in value.items():
                if not name.startswith("io.k8s."):
                    yield from schema_properties(definition, f"{here}/{name}")
            continue
        if key == "properties":
            for name, prop in value.items():
                yield f"{here}/{name}", prop
        yield from schema_properties(value, here)


def test_every_schema_property_has_a_description():
    """Editors validating a values file against the schema explain every key."""
    properties = list(schema_properties(load_schema()))
    assert len(properties) > 100
    missing = [
        pointer
        for pointer, prop in properties
        if not (isinstance(prop.get("description"), str) and prop["description"].strip())
    ]
    assert missing == []


def test_schema_descriptions_are_the_values_yaml_comments():
    schema = load_schema()
    server = schema["definitions"]["server"]["properties"]
    assert server["replicas"]["description"] == "Replica count when autoscaling is off."
    assert server["metrics"]["properties"]["serviceMonitor"]["properties"]["interval"][
        "description"
    ] == ("Scrape interval.")
    # Continuation lines are joined; the `# @default --` annotation stays in the README.
    servers = schema["properties"]["servers"]["description"]
    assert servers.startswith("MCP servers to deploy, keyed by name")
    assert servers.endswith(
        "Each entry takes the same keys as `defaults`; objects are named `<name>-mcp`."
    )
    assert "@default" not in json.dumps(schema)
    # The generated Kubernetes definitions keep Kubernetes' own descriptions.
    probe = schema["definitions"]["io.k8s.api.core.v1.Probe"]["properties"]
    assert "How often (in seconds) to perform the probe" in probe["periodSeconds"]["description"]


def test_chart_docs_check_fails_on_a_stale_description(chart_copy: Path):
    schema_path = chart_copy / "values.schema.json"
    schema = load_schema(chart_copy)
    schema["definitions"]["server"]["properties"]["replicas"]["description"] = "Pods."
    schema_path.write_text(json.dumps(schema, indent=2) + "\n")
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert (
        "values.schema.json: the description of defaults.replicas is not its `# --` comment in "
        "values.yaml; run 'make chart-docs'" in result.stderr
    )


def test_chart_docs_copies_the_comments_into_the_schema(chart_copy: Path):
    values = chart_copy / "values.yaml"
    values.write_text(
        values.read_text().replace(
            "Replica count when autoscaling is off.", "Pods to run when autoscaling is off."
        )
    )
    assert run_chart_docs_check(chart_copy).returncode == 1
    result = run_chart_docs(chart_copy)
    assert result.returncode == 0, result.stderr
    replicas = load_schema(chart_copy)["definitions"]["server"]["properties"]["replicas"]
    assert replicas["description"] == "Pods to run when autoscaling is off."
    assert run_chart_docs_check(chart_copy).returncode == 0


def test_chart_docs_fail_on_a_key_without_a_comment(chart_copy: Path):
    values = chart_copy / "values.yaml"
    text = values.read_text()
    assert "  # -- Replica count when autoscaling is off.\n" in text
    values.write_text(text.replace("  # -- Replica count when autoscaling is off.\n", ""))
    result = run_chart_docs(chart_copy)
    assert result.returncode == 1
    assert "values.yaml: defaults.replicas has no `# --` comment" in result.stderr


def test_chart_docs_check_fails_on_a_property_without_a_description(chart_copy: Path):
    """A property no values.yaml key reaches (here inside `secrets` items) needs one too."""
    schema_path = chart_copy / "values.schema.json"
    schema = load_schema(chart_copy)
    del schema["definitions"]["server"]["properties"]["secrets"]["items"]["properties"]["name"][
        "description"
    ]
    schema_path.write_text(json.dumps(schema, indent=2) + "\n")
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert (
        "values.schema.json: /definitions/server/properties/secrets/items/properties/name has "
        "no description" in result.stderr
    )


SCHEMA_LINE = "# yaml-language-server: $schema="
EDITED_VALUES_FILES = sorted(
    {
        CHART / "values.yaml",
        *(CHART / "ci").glob("*.yaml"),
        *(REPO_ROOT / "values").glob("*.yaml"),
        *(REPO_ROOT / "values" / "ci").glob("*.yaml"),
        REPO_ROOT / "tests" / "chart" / "features-values.yaml",
    }
)


@pytest.mark.parametrize(
    "path", EDITED_VALUES_FILES, ids=lambda path: str(path.relative_to(REPO_ROOT))
)
def test_values_files_name_the_schema_for_editors(path: Path):
    """The YAML language server (VS Code, Neovim, JetBrains...) then validates the file and
    shows each key's description. A link (ci/greeter-code-values.yaml) carries the line of the
    file it links to, relative to that file."""
    schema = os.path.relpath(CHART / "values.schema.json", path.resolve().parent)
    first = path.read_text().splitlines()[0]
    assert first == f"{SCHEMA_LINE}{schema}", f"{path.name}: start it with {SCHEMA_LINE}{schema}"


def test_schema_is_self_contained():
    text = (CHART / "values.schema.json").read_text()
    refs = [line for line in text.splitlines() if '"$ref"' in line]
    assert refs and all('"#/definitions/' in line for line in refs)


def load_schema(chart: Path = CHART) -> dict[str, Any]:
    return json.loads((chart / "values.schema.json").read_text())


def test_kubernetes_fields_use_kubernetes_definitions():
    schema = load_schema()
    definitions = schema["definitions"]
    server = definitions["server"]["properties"]
    refs = {
        "resources": server["resources"]["$ref"],
        "affinity": server["affinity"]["$ref"],
        "tolerations": server["tolerations"]["items"]["$ref"],
        "gpu.tolerations": server["gpu"]["properties"]["tolerations"]["items"]["$ref"],
        "topologySpreadConstraints": server["topologySpreadConstraints"]["items"]["$ref"],
        "podSecurityContext": server["podSecurityContext"]["$ref"],
        "securityContext": server["securityContext"]["$ref"],
        "livenessProbe": server["livenessProbe"]["$ref"],
        "ingressFrom": server["networkPolicy"]["properties"]["ingressFrom"]["items"]["$ref"],
        "metricsFrom": server["networkPolicy"]["properties"]["metricsFrom"]["items"]["$ref"],
        "egress": server["networkPolicy"]["properties"]["egress"]["items"]["$ref"],
    }
    assert refs == {
        "resources": "#/definitions/io.k8s.api.core.v1.ResourceRequirements",
        "affinity": "#/definitions/io.k8s.api.core.v1.Affinity",
        "tolerations": "#/definitions/io.k8s.api.core.v1.Toleration",
        "gpu.tolerations": "#/definitions/io.k8s.api.core.v1.Toleration",
        "topologySpreadConstraints": "#/definitions/io.k8s.api.core.v1.TopologySpreadConstraint",
        "podSecurityContext": "#/definitions/io.k8s.api.core.v1.PodSecurityContext",
        "securityContext": "#/definitions/io.k8s.api.core.v1.SecurityContext",
        "livenessProbe": "#/definitions/io.k8s.api.core.v1.Probe",
        "ingressFrom": "#/definitions/io.k8s.api.networking.v1.NetworkPolicyPeer",
        "metricsFrom": "#/definitions/io.k8s.api.networking.v1.NetworkPolicyPeer",
        "egress": "#/definitions/io.k8s.api.networking.v1.NetworkPolicyEgressRule",
    }
    kubernetes = {name: d for name, d in definitions.items() if name.startswith("io.k8s.")}
    assert "io.k8s.api.networking.v1.IPBlock" in kubernetes
    assert "io.k8s.api.core.v1.SeccompProfile" in kubernetes
    # Kubernetes drops or (with strict field validation) rejects unknown fields.
    for name, definition in kubernetes.items():
        if "properties" in definition:
            assert definition["additionalProperties"] is False, name


def test_chart_docs_check_fails_on_a_stale_kubernetes_definition(chart_copy: Path):
    schema_path = chart_copy / "values.schema.json"
    schema = load_schema(chart_copy)
    schema["definitions"]["io.k8s.api.core.v1.Toleration"]["properties"]["operator"] = {
        "type": "string"
    }
    schema_path.write_text(json.dumps(schema, indent=2) + "\n")
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert (
        "values.schema.json: definitions.io.k8s.api.core.v1.Toleration is not what "
        "scripts/chart_schema_sync.py generates from Kubernetes 1.34" in result.stderr
    )


def test_chart_docs_check_fails_on_a_missing_kubernetes_definition(chart_copy: Path):
    schema_path = chart_copy / "values.schema.json"
    schema = load_schema(chart_copy)
    del schema["definitions"]["io.k8s.api.networking.v1.IPBlock"]
    schema_path.write_text(json.dumps(schema, indent=2) + "\n")
    result = run_chart_docs_check(chart_copy)
    assert result.returncode == 1
    assert "definitions.io.k8s.api.networking.v1.IPBlock is missing" in result.stderr


def schema_pattern(definition: str, *path: str) -> str:
    node: Any = load_schema()["definitions"][definition]
    for key in path:
        node = node[key]
    return node["pattern"]


CIDRS = [
    "10.0.0.0/8",
    "0.0.0.0/0",
    "192.168.1.1/32",
    "10.2.3.4/24",
    "255.255.255.255/32",
    "2001:db8::/32",
    "::/0",
    "::1/128",
    "fe80::1:2:3:4/64",
    "2001:db8:0:0:0:0:0:1/128",
    "::ffff:192.0.2.0/120",
    "64:ff9b::10.0.0.1/96",
    "1::/16",
    "1:2:3:4:5:6:7::/112",
    "::2:3:4:5:6:7:8/128",
    "2001:DB8::/32",
]
NOT_CIDRS = [
    "10.0.0.0",
    "10.0.0.0/33",
    "10.0.0.256/24",
    "10.0.0/8",
    "010.0.0.0/8",
    "10.0.0.0/",
    " 10.0.0.0/8",
    "2001:db8::/129",
    "2001:db8:::/32",
    "2001:db8::1::/64",
    "1:2:3:4:5:6:7:8:9/128",
    "12345::/16",
    "::ffff:300.0.0.1/128",
    "fe80::1%eth0/64",
    "localhost/32",
]


@pytest.mark.parametrize("cidr", CIDRS)
def test_cidr_pattern_accepts_what_kubernetes_parses(cidr: str):
    ipaddress.ip_network(cidr, strict=False)
    assert re.search(schema_pattern("io.k8s.api.networking.v1.IPBlock", "properties", "cidr"), cidr)


@pytest.mark.parametrize("cidr", NOT_CIDRS)
def test_cidr_pattern_refuses_what_is_no_cidr(cidr: str):
    pattern = schema_pattern("io.k8s.api.networking.v1.IPBlock", "properties", "cidr")
    assert re.search(pattern, cidr) is None
    except_items = schema_pattern(
        "io.k8s.api.networking.v1.IPBlock", "properties", "except", "items"
    )
    assert except_items == pattern


@pytest.mark.parametrize(
    ("port", "valid"),
    [
        ("http", True),
        ("postgresql", True),
        ("h2c", True),
        ("a-b-c", True),
        ("x", True),
        ("abcdefghijklmno", True),
        ("8080", False),
        ("a--b", False),
        ("-http", False),
        ("http-", False),
        ("HTTP", False),
        ("abcdefghijklmnop", False),
        ("", False),
    ],
)
def test_named_port_pattern_is_an_iana_service_name(port: str, valid: bool):
    """Kubernetes' IsValidPortName: 1-15 of [a-z0-9-], a letter, no '--', no edge '-'."""
    node = load_schema()["definitions"]["io.k8s.api.networking.v1.NetworkPolicyPort"]
    schema = node["properties"]["port"]
    accepted = re.search(schema["pattern"], port) is not None and len(port) <= schema["maxLength"]
    assert accepted is valid
