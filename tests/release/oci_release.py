"""What the release tests run and read: `make`, the registry's HTTP API, one release's output."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from harness.server_registry import LOCAL_REGISTRY

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
# A release of one server and one catalog entry: what `make release` does for all, in a minute.
SERVERS = "todo"
CATALOG = "time"
# The platforms of every image of a release (the Makefile's RELEASE_ARCHES).
ARCHES = ("amd64", "arm64")
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
COSIGN_PASSWORD = "release-tests"
DIGEST_LINE = re.compile(r"^(?P<reference>\S+) (?P<digest>sha256:[0-9a-f]{64})$")
MANIFEST_TYPES = ",".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


CHART_VERSION = yaml.safe_load((REPO / "charts" / "mcp-servers" / "Chart.yaml").read_text())[
    "version"
]


def run(
    *argv: str, env: dict[str, str] | None = None, timeout: float = 900, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run("make", "-s", *args, env=env)


def local_image_ref(name: str) -> str:
    """`make release-images`' reference of one server or catalog entry: the local image."""
    listed = make("release-images", f"SERVERS={name}").stdout.split()
    assert len(listed) == 1, listed
    return listed[0]


def local_arch_image(image: str, arch: str) -> str:
    """The local tag of `image` built for `arch` (scripts/lib.sh arch_tag)."""
    return image if arch == HOST_ARCH else f"{image}-{arch}"


def image_ref(name: str) -> str:
    """Where a release puts one server or catalog entry, under its REGISTRY: the local image's
    reference without the local registry."""
    local = local_image_ref(name)
    assert local.startswith(f"{LOCAL_REGISTRY}/"), local
    return local.removeprefix(f"{LOCAL_REGISTRY}/")


class Registry:
    """The registry's HTTP API (distribution spec) at `address`, host:port."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.api = httpx.Client(base_url=f"http://{address}/v2", timeout=30)

    def digest(self, repository: str, reference: str) -> str | None:
        """The manifest digest the registry serves for a tag, None when it has none."""
        response = self.api.head(
            f"/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        if response.status_code == 404:
            return None
        assert response.status_code == 200, (repository, reference, response.status_code)
        return response.headers["Docker-Content-Digest"]

    def platforms(self, repository: str, reference: str) -> dict[str, str]:
        """linux/<arch> -> digest of each image the manifest list at `reference` names."""
        response = self.api.get(
            f"/{repository}/manifests/{reference}", headers={"Accept": MANIFEST_TYPES}
        )
        assert response.status_code == 200, (repository, reference, response.status_code)
        listed = response.json()
        assert "manifests" in listed, f"{repository}@{reference} is not a manifest list: {listed}"
        return {
            f"{entry['platform']['os']}/{entry['platform']['architecture']}": entry["digest"]
            for entry in listed["manifests"]
        }

    def delete(self, repository: str, reference: str) -> None:
        """Deletes the manifest a tag names (and so every tag on it)."""
        digest = self.digest(repository, reference)
        assert digest is not None, f"{repository}:{reference} is not there to delete"
        response = self.api.delete(f"/{repository}/manifests/{digest}")
        assert response.status_code == 202, response.text
        assert self.digest(repository, reference) is None

    def repositories(self) -> list[str]:
        response = self.api.get("/_catalog")
        response.raise_for_status()
        return response.json()["repositories"]


@dataclass(frozen=True)
class Release:
    """One `make release` into REGISTRY (registry address + path) with its own RELEASE_DIR."""

    registry: Registry
    path: str
    directory: Path
    # COSIGN_KEY, when the release signs with a key of its own instead of RELEASE_DIR's.
    key: Path | None = None
    # What `make release` printed, once it ran.
    result: subprocess.CompletedProcess[str] | None = None

    @property
    def target(self) -> str:
        return f"{self.registry.address}/{self.path}"

    @property
    def env(self) -> dict[str, str]:
        env = {"RELEASE_DIR": str(self.directory), "COSIGN_PASSWORD": COSIGN_PASSWORD}
        return env | ({"COSIGN_KEY": str(self.key)} if self.key else {})

    def digests(self) -> dict[str, str]:
        """The printed lines, reference -> digest; every stdout line must be one."""
        assert self.result is not None, "not released yet"
        lines = self.result.stdout.splitlines()
        matches = [DIGEST_LINE.match(line) for line in lines]
        assert all(matches), lines
        return {m["reference"]: m["digest"] for m in matches if m}

    def repository(self, reference: str) -> tuple[str, str]:
        """(repository, tag) in the registry of a printed reference."""
        name, tag = reference.removeprefix(f"{self.registry.address}/").rsplit(":", 1)
        return name, tag

    def verify(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return make(
            "verify-release",
            f"REGISTRY={self.target}",
            f"SERVERS={SERVERS}",
            f"CATALOG={CATALOG}",
            *args,
            env={**self.env, **(env or {})},
        )


@dataclass(frozen=True)
class TamperedRelease(Release):
    """A release the tests tamper with."""

    # verify-release right after `make release`, before any test tampered with it.
    verified_as_made: subprocess.CompletedProcess[str] | None = None


def registry_script(command: str, port: int) -> subprocess.CompletedProcess[str]:
    return run("bash", "scripts/registry.sh", command, env={"MCP_REGISTRY_PORT": str(port)})


def key_pair(directory: Path, password: str = COSIGN_PASSWORD) -> Path:
    """A cosign key pair made in `directory`; returns the private key's path."""
    made = run("cosign", "generate-key-pair", env={"COSIGN_PASSWORD": password}, cwd=directory)
    assert made.returncode == 0, made.stderr
    return directory / "cosign.key"


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp* has them) with a listener on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def chart_reference(release: Release) -> str:
    return f"{release.target}/charts/mcp-servers:{CHART_VERSION}"


def image_references(release: Release) -> list[str]:
    """The printed references of the release's images: the server's, then the catalog entry's."""
    return [f"{release.target}/{image_ref(SERVERS)}", f"{release.target}/{image_ref(CATALOG)}"]


def failures(result: subprocess.CompletedProcess[str]) -> str:
    """What verify-release said of a release it must refuse."""
    assert result.returncode != 0, "verify-release passed a tampered release:\n" + result.stdout
    return result.stderr
