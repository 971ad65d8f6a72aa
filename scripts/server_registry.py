"""The server registry: `[tool.mcp-servers.servers.<name>]` in pyproject.toml, the one place a
server is declared. Everything else derives from it: the console scripts and extras
(hatch_build.py), the images (build-images.sh), `make up` (fleet.sh), the clusters' image lists
(Makefile, kind.sh), the demo, and the tests.

Standard library only, so scripts can call it before any virtualenv exists:
  server_registry.py names [--fleet]     every server (--fleet: those `make up` runs)
  server_registry.py get NAME FIELD      one field, e.g. `get todo port`
  server_registry.py images VERSION      every image reference, localhost/mcp-servers/<name>:VERSION
  server_registry.py image-prefix        the prefix of every image we build, localhost/mcp-servers
  server_registry.py table               one line per server: name port database script fleet
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# Every image we build is named LOCAL_REGISTRY/IMAGE_NAMESPACE/<name> until a release pushes it to
# a registry as REGISTRY/IMAGE_NAMESPACE/<name>. "localhost" is a registry nobody can publish to:
# an image that was never built fails to pull instead of resolving to a Docker Hub namespace that
# anyone may claim. The chart's `global.imageRegistry` defaults to the same (a test keeps them so),
# and its values name the repositories IMAGE_NAMESPACE/<name>.
LOCAL_REGISTRY = "localhost"
IMAGE_NAMESPACE = "mcp-servers"
IMAGE_PREFIX = f"{LOCAL_REGISTRY}/{IMAGE_NAMESPACE}"
Database = Literal["none", "optional", "required"]
_DATABASES = ("none", "optional", "required")


class RegistryError(Exception):
    """A registry entry is missing a key or has a wrong one; the message names it."""


@dataclass(frozen=True)
class Server:
    name: str
    package: str
    port: int
    database: Database
    dependencies: tuple[str, ...]
    values: str | None
    fleet: bool
    script: str
    extra: str | None

    @property
    def entry_point(self) -> str:
        return f"{self.package}.__main__:main"

    @property
    def repository(self) -> str:
        """The image's repository as the chart's values name it."""
        return f"{IMAGE_NAMESPACE}/{self.name}"

    @property
    def image(self) -> str:
        """The image's local name (without tag), as `make build-images` tags it."""
        return f"{IMAGE_PREFIX}/{self.name}"


def _server(name: str, entry: dict[str, object]) -> Server:
    where = f"[tool.mcp-servers.servers.{name}]"
    known = {"package", "port", "database", "dependencies", "values", "fleet", "script", "extra"}
    if unknown := sorted(set(entry) - known):
        raise RegistryError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {sorted(known)}")
    for key in ("package", "port", "database"):
        if key not in entry:
            raise RegistryError(f"{where}: '{key}' is required")
    port = entry["port"]
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise RegistryError(f"{where}.port: must be an integer 1-65535, got {port!r}")
    if entry["database"] not in _DATABASES:
        raise RegistryError(
            f"{where}.database: must be one of {', '.join(_DATABASES)}, got {entry['database']!r}"
        )
    dependencies = entry.get("dependencies", [])
    if not isinstance(dependencies, list) or not all(
        isinstance(d, str) and d for d in dependencies
    ):
        raise RegistryError(
            f"{where}.dependencies: must be a list of non-empty strings, got {dependencies!r}"
        )
    values = entry.get("values", f"values/{name}.yaml")
    if values is not False and not (isinstance(values, str) and values):
        raise RegistryError(
            f"{where}.values: must be a values file's path, or false for none, got {values!r}"
        )
    fleet = entry.get("fleet", True)
    # Not bool(): the string "false" would be true.
    if not isinstance(fleet, bool):
        raise RegistryError(f"{where}.fleet: must be true or false, got {fleet!r}")
    # A server with dependencies of its own gets an extra named after it.
    extra = entry.get("extra", name if dependencies else None)
    return Server(
        name=name,
        package=_text(where, "package", entry["package"]),
        port=port,
        database=entry["database"],  # type: ignore[arg-type]
        dependencies=tuple(dependencies),
        values=values if isinstance(values, str) else None,
        fleet=fleet,
        script=_text(where, "script", entry.get("script", f"mcp-{name}")),
        extra=None if extra is None else _text(where, "extra", extra),
    )


def _text(where: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise RegistryError(f"{where}.{key}: must be a non-empty string, got {value!r}")
    return value


def load_registry(pyproject: Path = PYPROJECT) -> list[Server]:
    """Every registered server, in the order pyproject.toml declares them."""
    table = tomllib.loads(pyproject.read_text())
    entries = table.get("tool", {}).get("mcp-servers", {}).get("servers", {})
    if not entries:
        raise RegistryError(f"{pyproject}: no [tool.mcp-servers.servers.<name>] entries")
    servers = [_server(name, entry) for name, entry in entries.items()]
    ports: dict[int, str] = {}
    for server in servers:
        if server.port in ports:
            raise RegistryError(
                f"[tool.mcp-servers.servers.{server.name}].port: {server.port} is also"
                f" {ports[server.port]}'s port"
            )
        ports[server.port] = server.name
    return servers


def server_named(name: str, pyproject: Path = PYPROJECT) -> Server:
    servers = load_registry(pyproject)
    for server in servers:
        if server.name == name:
            return server
    known = " ".join(server.name for server in servers)
    raise RegistryError(f"unknown server '{name}' (known: {known})")


def main(argv: list[str]) -> int:
    try:
        match argv:
            case ["names"]:
                print(" ".join(server.name for server in load_registry()))
            case ["names", "--fleet"]:
                print(" ".join(server.name for server in load_registry() if server.fleet))
            case ["get", name, field]:
                server = server_named(name)
                if not hasattr(server, field):
                    raise RegistryError(f"unknown field '{field}' of a server")
                value = getattr(server, field)
                print("" if value is None else value)
            case ["table"]:
                for s in load_registry():
                    print(s.name, s.port, s.database, s.script, str(s.fleet).lower())
            case ["images", version]:
                print(" ".join(f"{server.image}:{version}" for server in load_registry()))
            case ["image-prefix"]:
                print(IMAGE_PREFIX)
            case _:
                print(__doc__.split("\n\n")[-1], file=sys.stderr)
                return 2
    except RegistryError as exc:
        print(f"server registry: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
