"""Pinned npm packages the tests and benchmarks run, installed on first use.

Several processes may need one at once (pytest-xdist workers, a bench beside a test run):
one installs under a file lock while the others wait, and a package counts as installed only
once its marker exists, which is written after `npm install` succeeded and appears whole.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.locks import REPO, locked

# Shared by every pinned package, so each is downloaded once per checkout.
NPM_PREFIX = REPO / ".run" / "npm"
INSPECTOR_DIR = REPO / "tests" / "servers" / "inspector"
# One lock for every npm install of the checkout: concurrent installs also share npm's cache.
INSTALL_LOCK = "npm-install"
INSTALL_TIMEOUT_SECONDS = 600
NO_NPM = "npm not found; install Node.js 20+ (apt-get install -y nodejs npm)"


def _mark_installed(marker: Path, what: str) -> None:
    # Written aside and renamed: a reader sees no marker or a whole one, never a torn write.
    marker.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=marker.parent, delete=False) as scratch:
        scratch.write(what + "\n")
    os.replace(scratch.name, marker)


def npm_executable(package: str, version: str, executable: str) -> Path:
    """The path of `executable` from `package`@`version` in .run/npm, installed if missing."""
    pinned = f"{package}@{version}"
    marker = NPM_PREFIX / ".installed" / pinned.replace("/", "+")
    if not marker.exists():
        with locked(INSTALL_LOCK):
            if not marker.exists():
                npm = shutil.which("npm")
                assert npm is not None, NO_NPM
                subprocess.run(
                    [
                        npm,
                        "install",
                        "--prefix",
                        str(NPM_PREFIX),
                        "--save-exact",
                        "--no-audit",
                        "--no-fund",
                        "--loglevel=error",
                        pinned,
                    ],
                    check=True,
                    timeout=INSTALL_TIMEOUT_SECONDS,
                )
                _mark_installed(marker, pinned)
    return NPM_PREFIX / "node_modules" / ".bin" / executable


def install_inspector() -> None:
    """Install the pinned MCP Inspector CLI (tests/servers/inspector, `npm ci` from its lock
    file) unless it is there already."""
    with locked(INSTALL_LOCK):
        subprocess.run(
            ["bash", str(INSPECTOR_DIR / "install.sh")],
            check=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )


def inspector_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`npx @modelcontextprotocol/inspector --cli URL ARGS`, after `install_inspector()`."""
    # npx resolves the package from that folder's node_modules, so it never downloads.
    return subprocess.run(
        ["npx", "@modelcontextprotocol/inspector", "--cli", url, *args],
        cwd=INSPECTOR_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
