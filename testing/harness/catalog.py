"""The stdio catalog (scripts/catalog.py), for tests and benchmarks, and its servers installed
on this machine the way their images install them."""

from __future__ import annotations

import shutil
import subprocess
import sys

from harness.locks import REPO, locked
from harness.npm import npm_executable
from harness.scripts import load_script

load_script("server_registry")  # catalog.py imports it as a sibling script
catalog = load_script("catalog")

Entry = catalog.Entry
CatalogError = catalog.CatalogError
load_catalog = catalog.load_catalog
entry_named = catalog.entry_named
node_version = catalog.node_version

# One virtualenv per PyPI entry and version, reused by later runs.
PYPI_SERVERS = REPO / ".run" / "catalog"
INSTALL_TIMEOUT_SECONDS = 600


def _pypi_bin(entry: Entry) -> str:
    """The bin directory of the entry's virtualenv, installed from its hashed lock file."""
    venv = PYPI_SERVERS / f"{entry.name}-{entry.version}"
    done = venv / ".installed"
    # One installer at a time (pytest-xdist workers, a bench): the others wait, then reuse it.
    with locked(f"catalog-{entry.name}"):
        if not done.exists():
            uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
            subprocess.run(
                [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                 "--require-hashes", "-r", str(entry.lock_dir / "requirements.txt")],
                check=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
            )  # fmt: skip
            done.touch()
    return str(venv / "bin")


def stdio_command(name: str) -> list[str]:
    """The catalog entry's stdio command with its executable installed here, pinned as in its
    image: for the tests and benchmarks that run the server without Docker."""
    entry = entry_named(name)
    executable, *args = entry.command
    if entry.registry == "npm":
        return [str(npm_executable(entry.package, entry.version, executable)), *args]
    return [f"{_pypi_bin(entry)}/{executable}", *args]
