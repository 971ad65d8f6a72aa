"""Fixtures of the chart tests: the pinned tools and the renders many tests share."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from harness.locks import locked
from helm_render import FEATURES_VALUES, REPO_ROOT, TOOLS_BIN, VALUES_FILES, Render, render

CHART_TOOLS = (
    "helm",
    "helm4",
    "ct",
    "kubeconform",
    "helm-docs",
    "yamllint",
    "yamale",
    "checkov",
    "uv",
)


@pytest.fixture(scope="session", autouse=True)
def chart_tools() -> Path:
    """The pinned toolchain; installed by the project's script when any tool is missing."""
    if not all((TOOLS_BIN / tool).exists() for tool in CHART_TOOLS):
        # One installer at a time (pytest-xdist workers): the others then find the tools.
        with locked("install-tools"):
            subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install-tools.sh")], check=True)
    return TOOLS_BIN


@pytest.fixture(scope="session")
def fleet() -> Render:
    """Every file in values/ in one release."""
    return render(VALUES_FILES)


@pytest.fixture(scope="session")
def features() -> Render:
    """The optional features (NodePort, v1beta1, metrics, ...) from ct's features file."""
    return render((FEATURES_VALUES,))


@pytest.fixture(scope="session")
def all_renders(fleet: Render, features: Render) -> dict[str, Render]:
    """Every render the validators check: each values file alone, all of them, the features."""
    renders = {path.stem: render((path,)) for path in VALUES_FILES}
    renders["fleet"] = fleet
    renders["features"] = features
    return renders
