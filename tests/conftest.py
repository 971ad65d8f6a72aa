"""Fixtures every test package shares: the repository, the project's tools, PostgreSQL."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"

# Tests call helm, ct, kubeconform, ... by name: the project's pinned copies come first.
os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
os.environ.setdefault("CT_CONFIG_DIR", str(REPO_ROOT / ".tools" / "ct"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def postgres_url(repo_root: Path) -> Iterator[str]:
    """Admin URL of the project's private PostgreSQL, started (and installed) on demand."""
    script = repo_root / "scripts" / "postgres.sh"
    subprocess.run(["bash", str(script), "start"], check=True)
    url = subprocess.run(
        ["bash", str(script), "url"], check=True, capture_output=True, text=True
    ).stdout.strip()
    yield url


@pytest.fixture(scope="session")
def postgres_reader_url(repo_root: Path, postgres_url: str) -> str:
    """URL of the private PostgreSQL's `mcp_reader`: a role granted only pg_read_all_data.

    The read-only SQL server refuses superusers, so whatever runs it needs this role.
    """
    return subprocess.run(
        ["bash", str(repo_root / "scripts" / "postgres.sh"), "reader-url"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
