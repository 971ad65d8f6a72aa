"""Derives each server's console script and extra from the server registry in pyproject.toml
(`[tool.mcp-servers.servers]`), so that a server is declared in one place."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


def _load_registry(root: Path) -> list[Any]:
    # The registry module is a standalone script (scripts call it before any venv exists).
    spec = importlib.util.spec_from_file_location(
        "server_registry", root / "scripts" / "server_registry.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module.load_registry(root / "pyproject.toml")


class ServerRegistryHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        servers = _load_registry(Path(self.root))
        metadata["scripts"] = {server.script: server.entry_point for server in servers}
        extras = {server.extra: list(server.dependencies) for server in servers if server.extra}
        features = _feature_extras(Path(self.root))
        if clashes := sorted(extras.keys() & features.keys()):
            raise ValueError(f"[tool.mcp-servers.extras]: {clashes} are also servers' extras")
        metadata["optional-dependencies"] = extras | features


def _feature_extras(root: Path) -> dict[str, list[str]]:
    """`[tool.mcp-servers.extras]`: optional features, such as tracing, that are no server's."""
    table = tomllib.loads((root / "pyproject.toml").read_text())
    extras = table.get("tool", {}).get("mcp-servers", {}).get("extras", {})
    return {name: [str(requirement) for requirement in deps] for name, deps in extras.items()}
