"""Lay out the Kubernetes JSON schemas shipped by `kubernetes-validate` for offline kubeconform.

kubernetes-validate stores `vX.Y.0-local-strict/<kind>-<group>-<version>.json` with absolute
`$ref: "/api/_definitions.json#..."` references. kubeconform expects
`vX.Y.0-standalone-strict/...` and resolves `$ref`s relative to the schema file, so the
references are rewritten to `_definitions.json#...`. Each schema's `$id` (an https URL) is
dropped too: kubeconform would resolve the relative references against it, fail to compile the
schema and report every object as having no schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import kubernetes_validate

FIRST_MINOR = 29
ABSOLUTE_REF = '"/api/_definitions.json#'
RELATIVE_REF = '"_definitions.json#'


def main(target: Path) -> None:
    source_root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    for source in sorted(source_root.glob("v1.*.0-local-strict")):
        minor = int(source.name.split(".")[1])
        if minor < FIRST_MINOR:
            continue
        destination = target / source.name.replace("-local-strict", "-standalone-strict")
        destination.mkdir(parents=True, exist_ok=True)
        for schema in source.glob("*.json"):
            document = json.loads(schema.read_text().replace(ABSOLUTE_REF, RELATIVE_REF))
            document.pop("$id", None)
            (destination / schema.name).write_text(json.dumps(document))
        print(f"schemas {destination.name}: {sum(1 for _ in destination.glob('*.json'))} files")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
