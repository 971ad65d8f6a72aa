"""What `make build-images` produces: tags, labels, user, contents, cache reuse, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from container import docker
from harness.server_registry import load_registry

pytestmark = pytest.mark.docker

REGISTRY = {server.name: server for server in load_registry()}
SERVERS = tuple(REGISTRY)


def image_config(image: str) -> dict:
    return json.loads(docker("image", "inspect", image).stdout)[0]["Config"]


def build_script(repo_root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo_root / "scripts" / "build-images.sh")],
        capture_output=True,
        text=True,
        cwd=repo_root,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("server", SERVERS)
def test_image_runs_as_uid_1000_with_oci_labels(
    server: str, built_images: str, repo_root: Path
) -> None:
    config = image_config(f"localhost/mcp-servers/{server}:0.1.0")
    assert config["User"] == "1000:1000"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.title"] == f"mcp-servers/{server}"
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=repo_root
    ).stdout.strip()
    assert labels["org.opencontainers.image.revision"] == (revision or "unknown")
    assert labels["org.opencontainers.image.source"]
    assert "HOME=/tmp" in config["Env"]
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    assert config["Entrypoint"] == ["/opt/venv/bin/mcp-server"]


@pytest.mark.parametrize("server", SERVERS)
def test_image_has_its_console_script_and_no_build_tools(server: str, built_images: str) -> None:
    probe = (
        "import importlib.util, os, sys;"
        "print(os.path.realpath('/opt/venv/bin/mcp-server'));"
        "print([m for m in ('pip', 'setuptools') if importlib.util.find_spec(m)])"
    )
    out = docker(
        "run", "--rm", "--read-only", "--user", "1000:1000", "--entrypoint", "python3",
        f"localhost/mcp-servers/{server}:0.1.0", "-c", probe,
    ).stdout.splitlines()  # fmt: skip
    assert out == [f"/opt/venv/bin/{REGISTRY[server].script}", "[]"]


def test_rebuild_without_change_reuses_every_layer(
    built_images: str, build_lock: None, repo_root: Path
) -> None:
    # The first run absorbs any source edit made since the session's build.
    assert build_script(repo_root, SERVERS="todo").returncode == 0
    before = docker("image", "inspect", "-f", "{{.Id}}", "localhost/mcp-servers/todo:0.1.0").stdout
    result = build_script(repo_root, SERVERS="todo")
    assert result.returncode == 0, result.stderr
    after = docker("image", "inspect", "-f", "{{.Id}}", "localhost/mcp-servers/todo:0.1.0").stdout
    assert after == before
    # Neither the dependency wheelhouse nor the project wheel was rebuilt.
    assert "wheelhouse todo" not in result.stderr
    assert "built project wheel" not in result.stderr


def test_unknown_server_is_named(repo_root: Path) -> None:
    result = build_script(repo_root, SERVERS="todo nope")
    assert result.returncode != 0
    assert f"unknown server 'nope' in SERVERS (known: {' '.join(SERVERS)})" in result.stderr


def test_unknown_inference_flavour_is_named(repo_root: Path) -> None:
    result = build_script(repo_root, SERVERS="memory", INFERENCE="gpu")
    assert result.returncode != 0
    assert "INFERENCE must be cpu or cuda, got 'gpu'" in result.stderr


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("", "build arg COMMAND is required (e.g. mcp-todo)"),
        ("mcp-nope", "COMMAND=mcp-nope: no such console script in the project wheel"),
    ],
)
def test_dockerfile_names_a_bad_command_build_arg(
    command: str, message: str, built_images: str, build_lock: None, repo_root: Path
) -> None:
    # After built_images the dependency layers are cached, so this fails within seconds.
    base_image, build_image = built_bases(built_images)
    result = subprocess.run(
        [
            "docker", "build", "--force-rm", "-f", str(repo_root / "images" / "Dockerfile"),
            "--build-arg", f"BASE_IMAGE={base_image}", "--build-arg", f"BUILD_IMAGE={build_image}",
            "--build-arg", f"COMMAND={command}",
            str(repo_root / "build" / "wheelhouse" / "todo"),
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def built_bases(report: str) -> tuple[str, str]:
    """The BASE_IMAGE and BUILD_IMAGE the build report names."""
    line = next(line for line in report.splitlines() if line.startswith("build-images: base "))
    words = line.split()
    return words[2], words[4]
