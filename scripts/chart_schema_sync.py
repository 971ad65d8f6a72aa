"""Check that the chart's values.yaml, values.schema.json and README table agree.

helm-docs builds the README table from values.yaml, so the table covers a key exactly when
values.yaml documents it. This check closes the loop with the schema:
- values.yaml itself satisfies the schema;
- every key values.yaml sets under `global` and `defaults` is a schema property (no stale docs);
- every schema property under `global` and `defaults` has a README row, itself or through
  its children (no undocumented keys), and every README row has a description.
Usage: python scripts/chart_schema_sync.py charts/mcp-servers
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

README_ROW = re.compile(r"^\| (?P<key>[^|]+?) \| (?P<type>[^|]+?) \| .* \| (?P<desc>[^|]*?) \|$")


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `#/definitions/...` reference."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


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
    values = yaml.safe_load((chart / "values.yaml").read_text())
    found = [
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
    chart = Path(sys.argv[1])
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
