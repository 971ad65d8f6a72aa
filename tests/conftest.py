"""Fixtures every test package shares: the repository, the project's tools, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.hydra import Hydra
from harness.jaeger import Jaeger
from harness.locks import locked
from harness.postgres_script import postgres_script

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"

# Tests call helm, ct, kubeconform, ... by name: the project's pinned copies come first.
os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("CT_CONFIG_DIR", str(REPO_ROOT / ".tools" / "ct"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def run_tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every process of this run shares: under pytest-xdist, the parent of the
    workers' own base directories."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """Admin URL of the project's private PostgreSQL, started (and installed) on demand."""
    # Workers that all find it stopped would otherwise each run pg_ctl start on one data dir.
    with locked("postgres"):
        postgres_script("start")
    return postgres_script("url")


@pytest.fixture(scope="session")
def postgres_reader_url(postgres_url: str) -> str:
    """URL of the private PostgreSQL's `mcp_reader`: a role granted only pg_read_all_data.

    The read-only SQL server refuses superusers, so whatever runs it needs this role.
    """
    return postgres_script("reader-url")


@pytest.fixture(scope="module")
def hydra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hydra]:
    """A real OpenID provider (Ory Hydra, harness.hydra) of the module's own: its clients and
    signing keys are the module's to change.

    Built into .tools/bin on first use when `make tools` has not built it (minutes, once).
    """
    with Hydra(tmp_path_factory.mktemp("hydra")) as provider:
        yield provider


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jaeger]:
    """A real trace backend (Jaeger's all-in-one, harness.jaeger) of the module's own, which
    receives OTLP and answers its query API.

    Built into .tools/bin on first use when `make tools` has not built it (minutes, once).
    """
    with Jaeger(tmp_path_factory.mktemp("jaeger")) as backend:
        yield backend
