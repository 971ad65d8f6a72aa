"""The server registry in pyproject.toml: what derives from it agrees with it, and a bad entry
is refused with a message naming the key."""

from __future__ import annotations

import importlib.metadata
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from harness.server_registry import RegistryError, load_registry

SERVERS = load_registry()


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_the_installed_console_script_is_the_registry_entry_point(server) -> None:
    scripts = {
        entry.name: entry.value
        for entry in importlib.metadata.distribution("mcp-servers").entry_points
        if entry.group == "console_scripts"
    }
    assert scripts[server.script] == server.entry_point


def test_each_extra_is_the_registry_dependencies(repo_root: Path) -> None:
    metadata = importlib.metadata.metadata("mcp-servers")
    extras = set(metadata.get_all("Provides-Extra"))
    # Besides the servers' extras, the features of [tool.mcp-servers.extras] (tracing).
    pyproject = tomllib.loads((repo_root / "pyproject.toml").read_text())
    features = set(pyproject["tool"]["mcp-servers"]["extras"])
    assert extras == {server.extra for server in SERVERS if server.extra} | features


@pytest.mark.parametrize(
    "server", [server for server in SERVERS if server.values], ids=lambda server: server.name
)
def test_the_values_file_runs_the_registry_image_on_the_registry_port(
    repo_root: Path, server
) -> None:
    values = yaml.safe_load((repo_root / server.values).read_text())
    (entry,) = values["servers"].values()
    assert entry["port"] == server.port
    if "image" in entry:
        assert entry["image"]["repository"] == server.repository


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('package = "p"\ndatabase = "none"', "[tool.mcp-servers.servers.x]: 'port' is required"),
        (
            'package = "p"\nport = 70000\ndatabase = "none"',
            "[tool.mcp-servers.servers.x].port: must be an integer 1-65535, got 70000",
        ),
        (
            'package = "p"\nport = "8001"\ndatabase = "none"',
            "[tool.mcp-servers.servers.x].port: must be an integer 1-65535, got '8001'",
        ),
        (
            'package = "p"\nport = 9\ndatabase = "sometimes"',
            "[tool.mcp-servers.servers.x].database: must be one of none, optional, required,"
            " got 'sometimes'",
        ),
        (
            'package = "p"\nport = 9\ndatabase = "none"\nimage = "x"',
            "[tool.mcp-servers.servers.x]: unknown key(s) image",
        ),
        (
            'package = "p"\nport = 8001\ndatabase = "none"',
            "[tool.mcp-servers.servers.x].port: 8001 is also todo's port",
        ),
        (
            # bool("false") is True: `make up` would run it.
            'package = "p"\nport = 9\ndatabase = "none"\nfleet = "false"',
            "[tool.mcp-servers.servers.x].fleet: must be true or false, got 'false'",
        ),
        (
            # Each character would have been a dependency of the server's extra.
            'package = "p"\nport = 9\ndatabase = "none"\ndependencies = "asyncpg>=0.30"',
            "[tool.mcp-servers.servers.x].dependencies: must be a list of non-empty strings,"
            " got 'asyncpg>=0.30'",
        ),
        (
            'package = "p"\nport = 9\ndatabase = "none"\nvalues = true',
            "[tool.mcp-servers.servers.x].values: must be a values file's path, or false for"
            " none, got True",
        ),
        (
            'package = ["p"]\nport = 9\ndatabase = "none"',
            "[tool.mcp-servers.servers.x].package: must be a non-empty string, got ['p']",
        ),
        (
            'package = "p"\nport = 9\ndatabase = "none"\nscript = ""',
            "[tool.mcp-servers.servers.x].script: must be a non-empty string, got ''",
        ),
    ],
)
def test_a_bad_entry_is_refused_naming_the_key(
    repo_root: Path, tmp_path: Path, entry: str, message: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        (repo_root / "pyproject.toml").read_text() + f"\n[tool.mcp-servers.servers.x]\n{entry}\n"
    )
    with pytest.raises(RegistryError) as refused:
        load_registry(pyproject)
    assert message in str(refused.value)


def test_the_command_line_names_an_unknown_server(repo_root: Path) -> None:
    result = subprocess.run(
        ["python3", str(repo_root / "scripts" / "server_registry.py"), "get", "nope", "port"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    known = " ".join(server.name for server in SERVERS)
    assert f"unknown server 'nope' (known: {known})" in result.stderr


@pytest.mark.parametrize("server", SERVERS, ids=lambda server: server.name)
def test_the_readme_links_every_registered_servers_own_readme(repo_root: Path, server) -> None:
    own = f"servers/{server.package}/README.md"
    assert (repo_root / own).is_file()
    assert f"]({own})" in (repo_root / "README.md").read_text()
