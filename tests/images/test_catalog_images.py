"""What `make build-images` makes of the stdio catalog: one image per entry, the package in it,
the bridge as its entrypoint, nothing to fetch at start, clear errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from container import docker
from harness.catalog import load_catalog

pytestmark = pytest.mark.docker

ENTRIES = load_catalog()
EACH_ENTRY = pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)


def image_config(image: str) -> dict:
    return json.loads(docker("image", "inspect", image).stdout)[0]["Config"]


def env_of(config: dict) -> dict[str, str]:
    return dict(item.split("=", 1) for item in config["Env"])


@EACH_ENTRY
def test_the_image_runs_the_entry_command_behind_the_bridge(
    entry, built_images: str, repo_root: Path
) -> None:
    config = image_config(f"{entry.image}:{entry.tag}")
    assert config["User"] == "1000:1000"
    assert config["Entrypoint"] == ["/opt/venv/bin/mcp-server"]
    env = env_of(config)
    assert json.loads(env["MCP_BRIDGE_COMMAND"]) == list(entry.command)
    assert env["MCP_BRIDGE_NAME"] == entry.name
    assert env["MCP_PORT"] == "8010"
    labels = config["Labels"]
    assert labels["io.mcp-servers.package"] == f"{entry.registry}:{entry.requirement}"
    # The entry's labels, not the bridge's: built on the bridge's unlabelled stage.
    assert labels["org.opencontainers.image.title"] == f"mcp-servers/{entry.name}"
    assert labels["org.opencontainers.image.version"] == entry.tag
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=repo_root
    ).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == (revision or "unknown")
    assert "org.opencontainers.image.licenses" not in labels


@EACH_ENTRY
def test_the_package_is_installed_at_its_pinned_version_without_package_managers(
    entry, built_images: str
) -> None:
    if entry.registry == "npm":
        probe = (
            f"node -p \"require('/opt/server/node_modules/{entry.package}/package.json').version\";"
            " command -v npm npx corepack pip || true"
        )
    else:
        probe = (
            f'/opt/server/bin/python -c "import importlib.metadata as m;'
            f" print(m.version('{entry.package}'))\"; command -v npm pip || true;"
            " ls /opt/server/bin | grep -x 'pip.*' || true"
        )
    out = docker(
        "run", "--rm", "--entrypoint", "sh", f"{entry.image}:{entry.tag}", "-c", probe
    ).stdout.split()
    assert out == [entry.version], f"version, then any package manager found: {out}"


def test_a_catalog_command_missing_from_the_image_fails_the_build(
    repo_root: Path, built_images: str, build_lock: None
) -> None:
    # The time entry's context is made by built_images, so only the last steps run.
    result = subprocess.run(
        [
            "docker", "build", "--force-rm",
            "-f", str(repo_root / "images" / "catalog" / "pypi.Dockerfile"),
            "--build-arg", "BRIDGE_IMAGE=localhost/mcp-servers/bridge:0.1.0",
            "--build-arg", f"BUILD_IMAGE={built_build_image(built_images)}",
            "--build-arg", 'COMMAND=["mcp-server-tiem"]', "--build-arg", "NAME=time",
            str(repo_root / "build" / "catalog" / "time"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "COMMAND: no executable 'mcp-server-tiem' in the image" in result.stdout + result.stderr


def test_an_unknown_catalog_entry_is_named(repo_root: Path) -> None:
    result = subprocess.run(
        ["bash", "scripts/build-images.sh"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CATALOG": "time tiem"},
    )
    assert result.returncode != 0
    assert "unknown catalog entry 'tiem' in CATALOG (known: filesystem" in result.stderr


def built_build_image(report: str) -> str:
    line = next(line for line in report.splitlines() if line.startswith("build-images: base "))
    return line.split()[4]
