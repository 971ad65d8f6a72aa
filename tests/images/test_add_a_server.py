"""Adding a server = its package, its registry entry, its values file: nothing else.

In a copy of the checkout, a throwaway `echo` server is added that way alone; then its image is
built, `make up` runs it, and the chart renders it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from container import docker
from harness.server_registry import load_registry

pytestmark = pytest.mark.docker

NAME = "echo"
PORT = 8097
IMAGE = "localhost/mcp-servers/echo:0.1.0"

PACKAGE = {
    "__init__.py": "",
    "__main__.py": '''"""`mcp-echo`: serve the echo server."""

from mcp_runtime import RuntimeSettings, run

from mcp_echo.server import create


def main() -> None:
    run(create, RuntimeSettings)
''',
    "server.py": '''"""A throwaway server: one tool."""

from fastmcp import FastMCP
from mcp_runtime import RuntimeSettings, ServerSpec


def create(settings: RuntimeSettings) -> ServerSpec:
    mcp = FastMCP("echo")

    @mcp.tool
    def echo(text: str) -> str:
        """Say it back."""
        return text

    return ServerSpec(mcp=mcp)
''',
}

REGISTRY_ENTRY = f"""
[tool.mcp-servers.servers.{NAME}]
package = "mcp_echo"
port = {PORT}
database = "none"
"""

VALUES = {
    "servers": {
        NAME: {
            "image": {"repository": f"mcp-servers/{NAME}", "tag": "0.1.0"},
            "port": PORT,
        }
    }
}


def run(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args),
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def checkout(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The working tree's files plus the echo server's package, registry entry and values."""
    copy = tmp_path_factory.mktemp("checkout")
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for relative in filter(None, listed):
        source = repo_root / relative
        if source.is_file():
            (copy / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / relative)
    # The pinned tools, not rebuilt for a copy.
    (copy / ".tools").symlink_to(repo_root / ".tools")
    package = copy / "servers" / "mcp_echo"
    package.mkdir()
    for name, text in PACKAGE.items():
        (package / name).write_text(text)
    with (copy / "pyproject.toml").open("a") as pyproject:
        pyproject.write(REGISTRY_ENTRY)
    (copy / "values" / f"{NAME}.yaml").write_text(yaml.safe_dump(VALUES))
    yield copy
    subprocess.run(["bash", "scripts/fleet.sh", "down"], cwd=copy, capture_output=True)
    subprocess.run(["docker", "image", "rm", "-f", IMAGE], capture_output=True)


def test_the_registry_lists_the_new_server(checkout: Path) -> None:
    servers = {server.name: server for server in load_registry(checkout / "pyproject.toml")}
    assert servers[NAME].script == "mcp-echo"
    assert servers[NAME].image == "localhost/mcp-servers/echo"
    assert servers[NAME].repository == "mcp-servers/echo"


def test_its_image_is_built(checkout: Path, build_lock: None) -> None:
    # Under the lock: it shares the base images (built on first use) and the layer cache.
    run(checkout, "bash", "scripts/build-images.sh", SERVERS=NAME)
    entry = docker(
        "run", "--rm", "--entrypoint", "python3", IMAGE,
        "-c", "import os; print(os.path.realpath('/opt/venv/bin/mcp-server'))",
    ).stdout.strip()  # fmt: skip
    assert entry == "/opt/venv/bin/mcp-echo"
    port = docker("image", "inspect", "-f", "{{json .Config.ExposedPorts}}", IMAGE).stdout
    assert f"{PORT}/tcp" in json.loads(port)


def test_make_up_runs_it(checkout: Path) -> None:
    # `make up` with no FLEET_SERVERS knows it (status lists every fleet server) ...
    status = run(checkout, "bash", "scripts/fleet.sh", "status")
    assert f"{NAME}: stopped" in status.stdout
    # ... and runs it on its registry port.
    up = run(checkout, "make", "up", FLEET_SERVERS=NAME)
    assert f"{NAME}: ready at http://127.0.0.1:{PORT}/mcp" in up.stdout
    assert httpx.get(f"http://127.0.0.1:{PORT}/ready").status_code == 200
    assert json.loads(up.stdout[up.stdout.index("{") :])["mcpServers"][NAME]["url"].endswith(
        f":{PORT}/mcp"
    )


def test_the_chart_renders_it(checkout: Path) -> None:
    rendered = run(
        checkout, "helm", "template", "r", "charts/mcp-servers", "-f", f"values/{NAME}.yaml"
    ).stdout
    deployments = [
        doc
        for doc in yaml.safe_load_all(rendered)
        if doc and doc["kind"] == "Deployment" and doc["metadata"]["name"].startswith(NAME)
    ]
    assert len(deployments) == 1
    container = deployments[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == IMAGE
    assert container["ports"][0]["containerPort"] == PORT
