"""Fixtures of the release tests: the project's OCI registry (scripts/registry.sh) on a free port,
the release tools, the two images a small release pushes, and `make release` runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.locks import locked
from harness.processes import free_port
from oci_release import (
    ARCHES,
    CATALOG,
    REPO,
    SERVERS,
    TOOLS_BIN,
    Registry,
    Release,
    TamperedRelease,
    key_pair,
    local_arch_image,
    local_image_ref,
    make,
    registry_script,
    run,
)

RELEASE_TOOLS = ("registry", "cosign", "syft", "helm")


def install_release_tools() -> None:
    # One builder at a time (pytest-xdist workers); minutes each when `make tools` has not run.
    missing = [tool for tool in RELEASE_TOOLS if not (TOOLS_BIN / tool).exists()]
    if missing:
        with locked("install-tools"):
            result = run("bash", "scripts/install-tools.sh", *missing, timeout=3600)
            assert result.returncode == 0, result.stderr[-3000:]


def build_release_images() -> None:
    """The images of the small release for each platform: the host's `make test` built, the
    others the incremental build makes under emulation (cached by the engine between runs)."""
    local = [local_image_ref(SERVERS), local_image_ref(CATALOG)]
    wanted = [local_arch_image(image, arch) for image in local for arch in ARCHES]
    assert run("bash", "scripts/docker-engine.sh").returncode == 0
    with locked("build-images"):
        if all(run("docker", "image", "inspect", image).returncode == 0 for image in wanted):
            return
        result = run(
            "bash",
            "scripts/build-images.sh",
            env={"SERVERS": SERVERS, "CATALOG": CATALOG, "ARCHES": " ".join(ARCHES)},
            timeout=3600,
        )
        assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    """The project's registry on a port of its own, storage and all removed afterwards."""
    install_release_tools()
    port = free_port()
    try:
        started = registry_script("start", port)
        assert started.returncode == 0, started.stderr
        yield Registry(registry_script("url", port).stdout.strip())
    finally:
        destroyed = registry_script("destroy", port)
        assert destroyed.returncode == 0, destroyed.stderr
        assert not (REPO / ".run" / "registry" / str(port)).exists()


def release(registry: Registry, path: str, directory: Path, key: Path | None = None) -> Release:
    build_release_images()
    made = Release(registry, path, directory, key)
    result = make(
        "release",
        f"REGISTRY={made.target}",
        f"SERVERS={SERVERS}",
        f"CATALOG={CATALOG}",
        env=made.env,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return dataclasses.replace(made, result=result)


@pytest.fixture(scope="module")
def released(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Release:
    """A release left as `make release` made it, signed with the key pair it made."""
    return release(registry, "acme", tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def tampered(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> TamperedRelease:
    """A release of its own for the tests that tamper with it, each with another artifact or
    another of its parts, so that what one breaks does not hide what another checks. Signed
    with a key passed as COSIGN_KEY."""
    key = key_pair(tmp_path_factory.mktemp("tampered-key"))
    made = release(registry, "tampered", tmp_path_factory.mktemp("tampered"), key)
    return TamperedRelease(**vars(made), verified_as_made=made.verify())
