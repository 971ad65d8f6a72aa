"""Lay out the Kubernetes JSON schemas shipped by `kubernetes-validate` for offline kubeconform.

kubernetes-validate stores `vX.Y.0-local-strict/<kind>-<group>-<version>.json` with absolute
`$ref: "/api/_definitions.json#..."` references. kubeconform expects
`vX.Y.0-standalone-strict/...` and resolves `$ref`s relative to the schema file, so the
references are rewritten to `_definitions.json#...`.
"""

from __future__ import annotations

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
            text = schema.read_text()
            (destination / schema.name).write_text(text.replace(ABSOLUTE_REF, RELATIVE_REF))
        print(f"schemas {destination.name}: {sum(1 for _ in destination.glob('*.json'))} files")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
