"""Helm 4 renders the chart exactly as Helm 3 does and lints it clean (the cluster tests install
it with Helm 4 too): users on either major version get the same objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helm_render import (
    CHART,
    FEATURES_VALUES,
    NAMESPACE,
    PREBUILT_VALUES,
    RELEASE,
    VALUES_FILES,
    tool,
    with_request_state_keys_masked,
)

# Both must see one cluster version: each defaults to the client-go it was built with.
KUBE_VERSION = "1.34.0"
RENDERED = (*VALUES_FILES, FEATURES_VALUES, PREBUILT_VALUES)


def template(helm: str, values_file: Path) -> str:
    result = tool(
        helm,
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        "-f",
        str(values_file),
    )
    assert result.returncode == 0, f"{helm} template -f {values_file.name}:\n{result.stderr}"
    return result.stdout


def test_helm4_is_the_pinned_major_version() -> None:
    result = tool("helm4", "version", "--short")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("v4."), result.stdout


@pytest.mark.parametrize("values_file", RENDERED, ids=lambda path: path.stem)
def test_helm4_renders_what_helm3_renders(values_file: Path) -> None:
    # Object for object, in the same order; Helm 4 only spaces the documents differently.
    helm3 = [doc for doc in yaml.safe_load_all(template("helm", values_file)) if doc]
    helm4 = [doc for doc in yaml.safe_load_all(template("helm4", values_file)) if doc]
    assert helm3, f"helm rendered nothing for {values_file.name}"
    assert with_request_state_keys_masked(helm4) == with_request_state_keys_masked(helm3)


def test_helm4_refuses_bad_values_with_the_same_message() -> None:
    args = ["template", RELEASE, str(CHART), "--set", "servers.todo.image.repository=Bad Name"]
    helm3, helm4 = tool("helm", *args), tool("helm4", *args)
    assert helm3.returncode != 0 and helm4.returncode != 0
    message = 'servers.todo.image.repository: "Bad Name" has upper-case letters'
    assert message in helm3.stderr and message in helm4.stderr, helm4.stderr


def test_helm4_lints_the_chart_strictly_with_every_values_file() -> None:
    for values_file in RENDERED:
        result = tool("helm4", "lint", "--strict", str(CHART), "-f", str(values_file))
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"helm4 lint -f {values_file.name}:\n{output}"
