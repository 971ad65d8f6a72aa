"""Chart.yaml's Artifact Hub metadata stays true: the license file, the changelog's top section and
every image the chart's values files run."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_render import CHART, REPO_ROOT, VALUES_FILES, render

CHANGELOG = REPO_ROOT / "CHANGELOG.md"
# Keep a Changelog's section titles, as Artifact Hub's change kinds.
CHANGE_KINDS = {
    "Added": "added",
    "Changed": "changed",
    "Deprecated": "deprecated",
    "Removed": "removed",
    "Fixed": "fixed",
    "Security": "security",
}


@pytest.fixture(scope="module")
def chart() -> dict[str, Any]:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())


def annotation(chart: dict[str, Any], key: str) -> Any:
    return yaml.safe_load(chart["annotations"][f"artifacthub.io/{key}"])


def top_section(changelog: str) -> tuple[str, list[dict[str, str]]]:
    """The first `## [version]` section: its version and its entries as Artifact Hub changes."""
    sections = re.split(r"^## ", changelog, flags=re.MULTILINE)[1:]
    assert sections, "CHANGELOG.md has no `## [version]` section"
    heading, _, body = sections[0].partition("\n")
    version = re.match(r"\[([^\]]+)\]", heading)
    assert version, f"CHANGELOG.md's top heading names no [version]: {heading!r}"
    changes: list[dict[str, str]] = []
    kind = None
    for line in body.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
            assert title in CHANGE_KINDS, f"CHANGELOG.md: unknown section {title!r}"
            kind = CHANGE_KINDS[title]
        elif line.startswith("- "):
            assert kind, f"CHANGELOG.md: entry outside a ### section: {line!r}"
            changes.append({"kind": kind, "description": line[2:].strip()})
    return version.group(1), changes


def test_license_is_apache_2_and_at_the_root(chart: dict[str, Any]) -> None:
    license_text = (REPO_ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert chart["annotations"]["artifacthub.io/license"] == "Apache-2.0"
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"


def test_changes_annotation_is_the_changelogs_top_section(chart: dict[str, Any]) -> None:
    version, changes = top_section(CHANGELOG.read_text())
    assert version == chart["version"], (
        f"CHANGELOG.md's top section is [{version}] but Chart.yaml's version is {chart['version']}"
    )
    assert changes, "CHANGELOG.md's top section lists no change"
    assert annotation(chart, "changes") == changes


def test_app_version_is_the_servers_version(chart: dict[str, Any]) -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert chart["appVersion"] == pyproject["project"]["version"]


def rendered_images(values_files: tuple[Path, ...], *set_args: str) -> set[str]:
    objects = render(values_files, set_args).objects
    images = set()
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec") or obj.get("spec", {})
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            images.add(container["image"])
    return images


def test_images_annotation_lists_every_image_the_values_files_run(chart: dict[str, Any]) -> None:
    expected: set[str] = set()
    for values_file in VALUES_FILES:
        expected |= rendered_images((values_file,))
    expected |= rendered_images((REPO_ROOT / "values" / "time.yaml",), "gateway.enabled=true")
    listed = annotation(chart, "images")
    assert sorted(entry["image"] for entry in listed) == sorted(expected)
    names = [entry["name"] for entry in listed]
    assert len(names) == len(set(names)), f"image names listed twice: {names}"
