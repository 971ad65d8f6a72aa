"""Keep the chart's values.yaml, values.schema.json and README table in agreement, and generate
the schema's Kubernetes definitions from Kubernetes' own OpenAPI schemas.

Kubernetes definitions. The values that go into a manifest as they are (resources, affinity,
tolerations, topology spread constraints, probes, security contexts, NetworkPolicy peers, ports
and egress rules, env `valueFrom`) are checked against Kubernetes' definitions, not hand-written
rules: the hand-written part of values.schema.json refers to `#/definitions/io.k8s...`, and this
script copies those definitions and everything they refer to from the JSON schemas of Kubernetes
KUBERNETES_VERSION that `kubernetes-validate` ships (installed offline into .tools/ by
scripts/install-tools.sh), then
- sets `additionalProperties: false` on every object with properties: the API server drops
  unknown fields, or rejects them with strict field validation, so a misspelt key never works;
- adds what the API server validates but the OpenAPI schemas leave out (OVERLAYS): enums such
  as the protocol (TCP, UDP, SCTP), CIDR patterns, port numbers 1-65535 or IANA service names,
  minimums, and the field combinations a NetworkPolicy peer, a toleration and a seccomp profile
  allow.

Descriptions. Every key of values.yaml that the schema lists as a property carries a helm-docs
`# --` comment, and the schema property's `description` is that comment (continuation lines
joined by spaces, `# @default` and the other annotations left out), so an editor that validates
a values file against the schema explains each key as the README does. The properties no
values.yaml key reaches (inside list items, `env` entries, `secrets`) carry hand-written
descriptions; the Kubernetes definitions keep Kubernetes' own.

Agreement. helm-docs builds the README table from values.yaml, so the table covers a key exactly
when values.yaml documents it. This check closes the loop with the schema:
- values.yaml itself satisfies the schema;
- every key values.yaml sets under `global` and `defaults` is a schema property (no stale docs);
- every schema property under `global` and `defaults` has a README row, itself or through
  its children (no undocumented keys), and every README row has a description;
- every values.yaml key the schema lists has a `# --` comment, which is its schema description,
  and every other schema property outside the Kubernetes definitions has a description;
- the `io.k8s.*` definitions are exactly what this script generates.

Usage: python scripts/chart_schema_sync.py [--write] charts/mcp-servers
  --write  regenerate the `io.k8s.*` definitions in values.schema.json and copy the `# --`
           comments of values.yaml into the descriptions first
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

README_ROW = re.compile(r"^\| (?P<key>[^|]+?) \| (?P<type>[^|]+?) \| .* \| (?P<desc>[^|]*?) \|$")
ROOT = Path(__file__).resolve().parents[1]

# The newest Kubernetes the chart is tested against (kubeconform in tests/chart, the local
# cluster of scripts/local-node.sh); a field it lacks is refused, a newer one may be added.
KUBERNETES_VERSION = "1.34"
KUBERNETES_PREFIX = "io.k8s."
LOCAL_REF = "#/definitions/"
SOURCE_REF = "#/$defs/"

# Kubernetes' own grammars (k8s.io/apimachinery/pkg/util/validation, Go's net.ParseCIDR).
OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = f"{OCTET}(\\.{OCTET}){{3}}"
H16 = "[0-9a-fA-F]{1,4}"
LS32 = f"({H16}:{H16}|{IPV4})"
IPV6 = "|".join(  # RFC 3986, section 3.2.2
    [
        f"({H16}:){{6}}{LS32}",
        f"::({H16}:){{5}}{LS32}",
        f"({H16})?::({H16}:){{4}}{LS32}",
        f"(({H16}:){{0,1}}{H16})?::({H16}:){{3}}{LS32}",
        f"(({H16}:){{0,2}}{H16})?::({H16}:){{2}}{LS32}",
        f"(({H16}:){{0,3}}{H16})?::{H16}:{LS32}",
        f"(({H16}:){{0,4}}{H16})?::{LS32}",
        f"(({H16}:){{0,5}}{H16})?::{H16}",
        f"(({H16}:){{0,6}}{H16})?::",
    ]
)
CIDR = f"^({IPV4}/(3[0-2]|[12]?[0-9])|({IPV6})/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))$"
IP_ADDRESS = f"^({IPV4}|{IPV6})$"
# IsValidPortName: at most 15 of a-z, 0-9 and '-', at least one letter, no '--', no edge '-'.
IANA_SVC_NAME = "^([a-z0-9]+-)*[a-z0-9]*[a-z][a-z0-9]*(-[a-z0-9]+)*$"
PORT_NUMBER = {"type": "integer", "minimum": 1, "maximum": 65535}
PORT = {
    "type": ["integer", "string"],
    "minimum": 1,
    "maximum": 65535,
    "maxLength": 15,
    "pattern": IANA_SVC_NAME,
}
ID = {"type": "integer", "minimum": 0, "maximum": 2147483647}
NON_NEGATIVE = {"type": "integer", "minimum": 0}
WEIGHT = {"type": "integer", "minimum": 1, "maximum": 100}
EXISTS = {"const": "Exists"}
LABEL_SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"]
SECCOMP_TYPES = ["Localhost", "RuntimeDefault", "Unconfined"]
LOCALHOST_NEEDS_A_PROFILE = {
    "if": {"properties": {"type": {"const": "Localhost"}}, "required": ["type"]},
    "then": {"required": ["localhostProfile"]},
}

# What the API server validates beyond the OpenAPI schema: definition -> property -> the schema
# that replaces the property's type (its description stays); "" patches the definition itself.
OVERLAYS: dict[str, dict[str, dict[str, Any]]] = {
    "io.k8s.api.networking.v1.NetworkPolicyPeer": {
        # "must specify a peer"; "may not specify both ipBlock and another peer".
        "": {"minProperties": 1, "dependencies": {"ipBlock": {"maxProperties": 1}}},
    },
    "io.k8s.api.networking.v1.IPBlock": {
        "cidr": {"type": "string", "pattern": CIDR},
        "except": {"type": "array", "items": {"type": "string", "pattern": CIDR}},
    },
    "io.k8s.api.networking.v1.NetworkPolicyPort": {
        # endPort needs a numeric port.
        "": {
            "dependencies": {"endPort": {"required": ["port"], "properties": {"port": PORT_NUMBER}}}
        },
        "port": PORT,
        "endPort": PORT_NUMBER,
        "protocol": {"enum": ["TCP", "UDP", "SCTP"]},
    },
    "io.k8s.api.core.v1.HTTPGetAction": {
        "port": PORT,
        "scheme": {"enum": ["HTTP", "HTTPS"]},
    },
    "io.k8s.api.core.v1.TCPSocketAction": {"port": PORT},
    # Name servers by address (the chart's NetworkPolicy admits each as an ipBlock).
    "io.k8s.api.core.v1.PodDNSConfig": {
        "nameservers": {"type": "array", "items": {"type": "string", "pattern": IP_ADDRESS}},
    },
    "io.k8s.api.core.v1.GRPCAction": {"port": PORT_NUMBER},
    "io.k8s.api.core.v1.Probe": {
        "initialDelaySeconds": NON_NEGATIVE,
        "timeoutSeconds": NON_NEGATIVE,
        "periodSeconds": NON_NEGATIVE,
        "successThreshold": NON_NEGATIVE,
        "failureThreshold": NON_NEGATIVE,
        "terminationGracePeriodSeconds": {"type": "integer", "minimum": 1},
    },
    "io.k8s.api.core.v1.Toleration": {
        "": {
            "allOf": [
                # "operator must be Exists when `key` is empty"
                {
                    "if": {"properties": {"key": {"enum": ["", None]}}},
                    "then": {"required": ["operator"], "properties": {"operator": EXISTS}},
                },
                # "value must be empty when `operator` is 'Exists'"
                {
                    "if": {"required": ["operator"], "properties": {"operator": EXISTS}},
                    "then": {"properties": {"value": {"enum": ["", None]}}},
                },
                # "effect must be 'NoExecute' when `tolerationSeconds` is set"
                {
                    "if": {"required": ["tolerationSeconds"]},
                    "then": {
                        "required": ["effect"],
                        "properties": {"effect": {"const": "NoExecute"}},
                    },
                },
            ]
        },
        "operator": {"enum": ["", "Equal", "Exists"]},
        "effect": {"enum": ["", "NoSchedule", "PreferNoSchedule", "NoExecute"]},
    },
    "io.k8s.api.core.v1.TopologySpreadConstraint": {
        "maxSkew": {"type": "integer", "minimum": 1},
        "minDomains": {"type": "integer", "minimum": 1},
        "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]},
        "nodeAffinityPolicy": {"enum": ["Honor", "Ignore"]},
        "nodeTaintsPolicy": {"enum": ["Honor", "Ignore"]},
    },
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement": {
        "operator": {"enum": LABEL_SELECTOR_OPERATORS},
    },
    "io.k8s.api.core.v1.NodeSelectorRequirement": {
        "operator": {"enum": [*LABEL_SELECTOR_OPERATORS, "Gt", "Lt"]},
    },
    "io.k8s.api.core.v1.PreferredSchedulingTerm": {"weight": WEIGHT},
    "io.k8s.api.core.v1.WeightedPodAffinityTerm": {"weight": WEIGHT},
    "io.k8s.api.core.v1.SeccompProfile": {
        "": LOCALHOST_NEEDS_A_PROFILE,
        "type": {"enum": SECCOMP_TYPES},
    },
    "io.k8s.api.core.v1.AppArmorProfile": {
        "": LOCALHOST_NEEDS_A_PROFILE,
        "type": {"enum": SECCOMP_TYPES},
    },
    "io.k8s.api.core.v1.PodSecurityContext": {
        "runAsUser": ID,
        "runAsGroup": ID,
        "fsGroup": ID,
        "supplementalGroups": {"type": "array", "items": ID},
        "fsGroupChangePolicy": {"enum": ["OnRootMismatch", "Always"]},
        "supplementalGroupsPolicy": {"enum": ["Merge", "Strict"]},
        "seLinuxChangePolicy": {"enum": ["MountOption", "Recursive"]},
    },
    "io.k8s.api.core.v1.SecurityContext": {
        "runAsUser": ID,
        "runAsGroup": ID,
        "procMount": {"enum": ["Default", "Unmasked"]},
    },
    # ValidateHorizontalPodAutoscaler's limits on `autoscaling.behavior`.
    "io.k8s.api.autoscaling.v2.HPAScalingRules": {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
    },
    "io.k8s.api.autoscaling.v2.HPAScalingPolicy": {
        "type": {"enum": ["Pods", "Percent"]},
        "value": {"type": "integer", "minimum": 1},
        "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        # The templates parse quantities and say what is wrong (mcp-servers.quantity).
        "": {"type": ["string", "number"], "oneOf": None},
    },
}


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `#/definitions/...` reference."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def refs(node: Any) -> Iterator[str]:
    """Names of the definitions a schema node refers to."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.removeprefix(LOCAL_REF).removeprefix(SOURCE_REF)
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def kubernetes_schemas() -> Path:
    """kubernetes-validate's schema directory: this interpreter's, else the one in .tools/."""
    spec = importlib.util.find_spec("kubernetes_validate")
    packages = [Path(spec.origin).parent] if spec and spec.origin else []
    packages += sorted(ROOT.glob(".tools/py-venv/lib/python3*/site-packages/kubernetes_validate"))
    for package in packages:
        directory = package / "kubernetes-json-schema" / f"v{KUBERNETES_VERSION}.0-local"
        if (directory / "_definitions.json").is_file():
            return directory
    raise SystemExit(
        f"chart-docs: the Kubernetes {KUBERNETES_VERSION} schemas of kubernetes-validate are "
        "not installed; run 'make tools'"
    )


def strict(node: Any) -> Any:
    """Local references, and no unknown fields in any object that lists its fields."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: value.replace(SOURCE_REF, LOCAL_REF) if key == "$ref" else strict(value)
        for key, value in node.items()
    }
    if "properties" in node and "additionalProperties" not in node:
        node["additionalProperties"] = False
    return node


def overlay(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    for field, patch in OVERLAYS.get(name, {}).items():
        if field == "":
            definition.update(patch)
            definition = {key: value for key, value in definition.items() if value is not None}
            continue
        original = definition["properties"][field]
        described = {"description": original["description"]} if "description" in original else {}
        replacement = described | copy.deepcopy(patch)
        # Kubernetes reads null as unset; the templates judge nulls where they matter.
        if "null" in original.get("type", []) and isinstance(replacement.get("type"), str):
            replacement["type"] = [replacement["type"], "null"]
        definition["properties"][field] = replacement
    return definition


def generated_definitions(schema: dict[str, Any]) -> dict[str, Any]:
    """The `io.k8s.*` definitions the hand-written part of the schema refers to, transitively."""
    source = json.loads((kubernetes_schemas() / "_definitions.json").read_text())["$defs"]
    own = {k: v for k, v in schema["definitions"].items() if not k.startswith(KUBERNETES_PREFIX)}
    own_schema = {key: value for key, value in schema.items() if key != "definitions"}
    pending = [name for name in refs([own_schema, own]) if name.startswith(KUBERNETES_PREFIX)]
    generated: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name in generated:
            continue
        if name not in source:
            raise SystemExit(f"chart-docs: Kubernetes {KUBERNETES_VERSION} has no {name}")
        generated[name] = overlay(name, strict(copy.deepcopy(source[name])))
        pending += refs(generated[name])
    return dict(sorted(generated.items()))


def stale_definitions(schema: dict[str, Any]) -> list[str]:
    """How the schema's `io.k8s.*` definitions differ from the generated ones."""
    want = generated_definitions(schema)
    have = {k: v for k, v in schema["definitions"].items() if k.startswith(KUBERNETES_PREFIX)}
    found = [f"definitions.{name} is missing" for name in want if name not in have]
    found += [f"definitions.{name} is referred to by nothing" for name in have if name not in want]
    found += [
        f"definitions.{name} is not what scripts/chart_schema_sync.py generates from "
        f"Kubernetes {KUBERNETES_VERSION}"
        for name in want
        if name in have and have[name] != want[name]
    ]
    return [f"values.schema.json: {problem}; run 'make chart-docs'" for problem in found]


def write_definitions(chart: Path) -> None:
    path = chart / "values.schema.json"
    schema = json.loads(path.read_text())
    own = {k: v for k, v in schema["definitions"].items() if not k.startswith(KUBERNETES_PREFIX)}
    schema["definitions"] = own | generated_definitions(schema)
    path.write_text(json.dumps(schema, indent=2) + "\n")


DESCRIPTION_START = re.compile(r"^# --\s?(?:\(\w+\)\s*)?(?P<text>.*)$")
ANNOTATION = re.compile(r"^# @\w+")


def key_comment(lines: list[str], number: int) -> str:
    """helm-docs' description of the key on line `number` (0-based): the `# --` line of the
    comment block right above it and the continuation lines after that, joined by spaces,
    without the `# @default --` (or other `# @...`) annotations; empty when there is none."""
    above = number
    while above > 0 and lines[above - 1].lstrip().startswith("#"):
        above -= 1
    block = [line.strip() for line in lines[above:number]]
    starts = [i for i, line in enumerate(block) if DESCRIPTION_START.match(line)]
    if not starts:
        return ""
    parts = [DESCRIPTION_START.match(block[starts[-1]])["text"]]  # type: ignore[index]
    for line in block[starts[-1] + 1 :]:
        if ANNOTATION.match(line):
            break
        parts.append(re.sub(r"^#\s?", "", line))
    return " ".join(part.strip() for part in parts if part.strip())


def is_kubernetes(node: dict[str, Any]) -> bool:
    return str(node.get("$ref", "")).startswith(LOCAL_REF + KUBERNETES_PREFIX)


def documented_keys(
    schema: dict[str, Any], node: dict[str, Any], values: yaml.Node, path: str
) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(path, 0-based line, schema property) of every key of values.yaml that a hand-written
    part of the schema lists as a property; Kubernetes objects are not entered."""
    if is_kubernetes(node) or not isinstance(values, yaml.MappingNode):
        return
    properties = resolve(schema, node).get("properties", {})
    for key_node, value_node in values.value:
        if key_node.value not in properties:
            continue  # value_paths reports it
        here = f"{path}.{key_node.value}" if path else key_node.value
        child = properties[key_node.value]
        yield here, key_node.start_mark.line, child
        yield from documented_keys(schema, child, value_node, here)


def describe(schema: dict[str, Any], values_text: str) -> list[str]:
    """Copy each `# --` comment of values.yaml into its schema property's description, in place
    (first key of the property); the problems that leaves: keys without a comment, properties
    two keys describe differently."""
    lines = values_text.splitlines()
    found = []
    given: dict[int, tuple[str, str]] = {}
    for path, line, node in documented_keys(schema, schema, yaml.compose(values_text), ""):
        comment = key_comment(lines, line)
        if not comment:
            found.append(
                f"values.yaml: {path} has no `# --` comment; it is the README row and the "
                "schema description of the key"
            )
            continue
        if id(node) in given and given[id(node)][1] != comment:
            found.append(
                f"values.yaml: {path} and {given[id(node)][0]} share a schema property but "
                "not their `# --` comment"
            )
        given[id(node)] = (path, comment)
        rest = {key: value for key, value in node.items() if key != "description"}
        node.clear()
        node.update({"description": comment, **rest})
    return found


def undescribed(node: Any, pointer: str) -> Iterator[str]:
    """JSON pointers of the schema properties without a description, outside the Kubernetes
    definitions (those carry Kubernetes' own)."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from undescribed(item, f"{pointer}/{index}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{pointer}/{key}"
        if key == "definitions" and pointer == "":
            for name, definition in value.items():
                if not name.startswith(KUBERNETES_PREFIX):
                    yield from undescribed(definition, f"{here}/{name}")
            continue
        if key == "properties" and isinstance(value, dict):
            for name, prop in value.items():
                description = prop.get("description") if isinstance(prop, dict) else None
                if not (isinstance(description, str) and description.strip()):
                    yield f"{here}/{name}"
        yield from undescribed(value, here)


def stale_descriptions(schema: dict[str, Any], values_text: str) -> list[str]:
    want = copy.deepcopy(schema)
    found = describe(want, values_text)
    found += [
        f"values.schema.json: the description of {path} is not its `# --` comment in "
        "values.yaml; run 'make chart-docs'"
        for path, _, node in documented_keys(want, want, yaml.compose(values_text), "")
        if node.get("description") != resolve_path(schema, path).get("description")
    ]
    found += [
        f"values.schema.json: {pointer} has no description" for pointer in undescribed(schema, "")
    ]
    return found


def resolve_path(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema property of a values path such as `defaults.image.tag`."""
    node = schema
    for key in path.split("."):
        node = resolve(schema, node)["properties"][key]
    return node


def write_descriptions(chart: Path) -> None:
    path = chart / "values.schema.json"
    schema = json.loads(path.read_text())
    describe(schema, (chart / "values.yaml").read_text())
    path.write_text(json.dumps(schema, indent=2) + "\n")


def value_paths(
    values: Any, schema: dict[str, Any], node: dict[str, Any], path: str
) -> Iterator[str]:
    """Paths in values.yaml that the schema does not describe."""
    node = resolve(schema, node)
    properties = node.get("properties")
    if not isinstance(values, dict) or properties is None:
        return
    for key, value in values.items():
        if key not in properties:
            if node.get("additionalProperties") is False:
                yield f"{path}.{key}"
            continue
        yield from value_paths(value, schema, properties[key], f"{path}.{key}")


def uncovered(
    schema: dict[str, Any], node: dict[str, Any], rows: dict[str, str], path: str
) -> Iterator[str]:
    """Schema properties the README table documents neither as a row nor through child rows."""
    for key, child in resolve(schema, node).get("properties", {}).items():
        here = f"{path}.{key}"
        if here in rows:
            continue
        if any(row.startswith(f"{here}.") for row in rows):
            yield from uncovered(schema, child, rows, here)
        else:
            yield here


def readme_rows(readme: str) -> dict[str, str]:
    """Key -> description of every row of the README's values table."""
    rows = {}
    for line in readme.splitlines():
        row = README_ROW.match(line)
        if row and row["key"] != "Key":
            rows[row["key"]] = row["desc"].strip()
    return rows


def problems(chart: Path) -> list[str]:
    schema = json.loads((chart / "values.schema.json").read_text())
    values_text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(values_text)
    found = stale_definitions(schema)
    found += stale_descriptions(schema, values_text)
    found += [
        f"values.yaml: {error.json_path}: {error.message}"
        for error in jsonschema.Draft7Validator(schema).iter_errors(values)
    ]
    rows = readme_rows((chart / "README.md").read_text())
    top = schema["properties"]
    for section in ("global", "defaults"):
        found += [
            f"values.yaml sets {p}, which values.schema.json does not describe"
            for p in value_paths(values[section], schema, top[section], section)
        ]
        found += [
            f"values.schema.json describes {p}, which values.yaml (the README table) lacks"
            for p in uncovered(schema, top[section], rows, section)
        ]
    found += [
        f"README.md: {key} has no description (add a `# --` comment in values.yaml)"
        for key, description in rows.items()
        if not description
    ]
    return found


def main() -> int:
    args = sys.argv[1:]
    write = args[:1] == ["--write"]
    chart = Path(args[-1])
    if write:
        write_definitions(chart)
        write_descriptions(chart)
    found = problems(chart)
    for problem in found:
        print(f"chart-docs: {problem}", file=sys.stderr)
    if found:
        print(
            "chart-docs: values.yaml, values.schema.json and README.md are out of sync",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
