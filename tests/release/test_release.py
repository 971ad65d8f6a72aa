"""`make release` and `make verify-release` against a real OCI registry (the CNCF distribution
registry, scripts/registry.sh): what is pushed, its digests, platforms, signatures and SBOMs.
test_release_tampering.py has what verification says when someone tampers with the registry, and
what a release says of bad input."""

from __future__ import annotations

import base64
import contextlib
import json
import tarfile
import tomllib
from pathlib import Path

import pytest
import yaml
from harness.processes import free_port
from oci_release import (
    ARCHES,
    CATALOG,
    CHART_VERSION,
    REPO,
    Registry,
    Release,
    chart_reference,
    failures,
    image_ref,
    image_references,
    key_pair,
    listening_addresses,
    make,
    registry_script,
    run,
)

# Cold: a release builds the images it lacks and the tools when `make tools` has not run.
pytestmark = pytest.mark.timeout(1800)

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
# 127.0.0.1 as /proc/net/tcp writes it.
LOOPBACK_HEX = "0100007F"


def running(pid: int) -> bool:
    """Whether any thread of `pid` runs; an exited one not reaped yet (a zombie) does not.

    A Go process's first thread turns zombie before its other threads have exited (and closed
    its listener), so every thread is asked.
    """
    states = []
    for task in Path(f"/proc/{pid}/task").glob("*/stat"):
        with contextlib.suppress(FileNotFoundError):
            states.append(task.read_text().rsplit(")", 1)[1].split()[0])
    return any(state != "Z" for state in states)


def test_default_release_is_everything_build_images_builds() -> None:
    listed = make("release-images")
    assert listed.returncode == 0, listed.stderr
    released = listed.stdout.split()
    servers = run("python3", "scripts/server_registry.py", "images", VERSION)
    catalog = run("python3", "scripts/catalog.py", "images")
    cluster = make("cluster-images")
    # build-images.sh builds, with neither SERVERS nor CATALOG, every server, the reference
    # backend and every catalog entry, runnable here or not.
    expected = [*servers.stdout.split(), f"localhost/mcp-servers/todo-backend:{VERSION}"]
    expected += catalog.stdout.split()
    assert sorted(released) == sorted(expected)
    assert len(set(released)) == len(released)
    assert set(cluster.stdout.split()) <= set(released)


def test_release_prints_one_line_per_artifact_and_keeps_them(released: Release) -> None:
    digests = released.digests()
    assert sorted(digests) == sorted([*image_references(released), chart_reference(released)])
    kept = (released.directory / "digests.txt").read_text()
    assert released.result is not None
    assert kept == released.result.stdout
    # The key pair made on demand, with COSIGN_PASSWORD, for the release to sign with.
    assert (released.directory / "cosign.key").read_text().startswith("-----BEGIN ENCRYPTED")
    assert (released.directory / "cosign.pub").read_text().startswith("-----BEGIN PUBLIC KEY")


def test_printed_digests_are_what_the_registry_serves(released: Release) -> None:
    for reference, digest in released.digests().items():
        repository, tag = released.repository(reference)
        assert released.registry.digest(repository, tag) == digest, reference
        # cosign's tag beside it: the signature (of an image's manifest list).
        assert released.registry.digest(repository, f"{digest.replace(':', '-')}.sig"), reference


def test_each_image_is_one_manifest_list_of_both_platforms_each_signed_with_its_sbom(
    released: Release,
) -> None:
    for reference in image_references(released):
        repository, tag = released.repository(reference)
        platforms = released.registry.platforms(repository, released.digests()[reference])
        assert sorted(platforms) == [f"linux/{arch}" for arch in ARCHES], reference
        for arch in ARCHES:
            digest = platforms[f"linux/{arch}"]
            # Each platform's image under a tag of its own too, and its cosign tags.
            assert released.registry.digest(repository, f"{tag}-{arch}") == digest
            signed = digest.replace(":", "-")
            assert released.registry.digest(repository, f"{signed}.sig"), (reference, arch)
            assert released.registry.digest(repository, f"{signed}.att"), (reference, arch)


def test_the_arm64_image_from_the_registry_runs_as_arm64(released: Release) -> None:
    # The node pulls the platform it runs on; here the arm64 one runs under emulation (qemu).
    reference = image_references(released)[0]
    repository, _ = released.repository(reference)
    platforms = released.registry.platforms(repository, released.digests()[reference])
    pinned = f"{reference.rsplit(':', 1)[0]}@{platforms['linux/arm64']}"
    pulled = run("docker", "pull", "-q", pinned)
    assert pulled.returncode == 0, pulled.stderr
    try:
        ran = run(
            "docker", "run", "--rm", "--platform", "linux/arm64", "--entrypoint", "python3",
            pinned, "-c", "import platform, mcp_runtime; print(platform.machine())",
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == "aarch64"
    finally:
        run("docker", "rmi", pinned)


def test_helm_pulls_the_chart_at_its_version(released: Release, tmp_path: Path) -> None:
    pulled = run(
        "helm",
        "pull",
        f"oci://{released.target}/charts/mcp-servers",
        "--version",
        CHART_VERSION,
        "--plain-http",
        "--destination",
        str(tmp_path),
    )
    assert pulled.returncode == 0, pulled.stderr
    (package,) = tmp_path.glob("*.tgz")
    assert package.name == f"mcp-servers-{CHART_VERSION}.tgz"
    with tarfile.open(package) as archive:
        chart = yaml.safe_load(archive.extractfile("mcp-servers/Chart.yaml").read())
    assert (chart["name"], chart["version"]) == ("mcp-servers", CHART_VERSION)
    assert (
        f"sha256:{released.digests()[chart_reference(released)][7:]}"
        in pulled.stdout + pulled.stderr
    )


def test_the_release_values_install_the_chart_from_the_registry_pinned_by_digest(
    released: Release, tmp_path: Path
) -> None:
    values = yaml.safe_load((released.directory / "values.yaml").read_text())
    images = {
        reference.removeprefix(f"{released.target}/").rsplit(":", 1)[0]: digest
        for reference, digest in released.digests().items()
        if "/charts/" not in reference
    }
    assert values["global"] == {"imageRegistry": released.target, "imageDigests": images}
    # The chart as pulled from the registry renders todo from there, pinned.
    rendered = run(
        "helm", "template", "pinned", f"oci://{released.target}/charts/mcp-servers",
        "--version", CHART_VERSION, "--plain-http",
        "-f", str(REPO / "values" / "todo.yaml"), "-f", str(released.directory / "values.yaml"),
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    (deployment,) = (
        document
        for document in yaml.safe_load_all(rendered.stdout)
        if document and document["kind"] == "Deployment"
    )
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert server["image"] == f"{released.target}/mcp-servers/todo@{images['mcp-servers/todo']}"


@pytest.mark.parametrize("arch", ARCHES)
def test_each_platform_image_carries_an_spdx_sbom_of_its_packages(
    released: Release, arch: str
) -> None:
    for reference in image_references(released):
        repository, _ = released.repository(reference)
        digest = released.registry.platforms(repository, released.digests()[reference])[
            f"linux/{arch}"
        ]
        checked = run(
            "cosign",
            "verify-attestation",
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--key",
            str(released.directory / "cosign.pub"),
            "--type",
            "spdxjson",
            f"{reference.rsplit(':', 1)[0]}@{digest}",
        )
        assert checked.returncode == 0, checked.stderr
        envelope = json.loads(checked.stdout.splitlines()[0])
        statement = json.loads(base64.b64decode(envelope["payload"]))
        assert statement["predicateType"] == "https://spdx.dev/Document"
        assert statement["subject"][0]["digest"]["sha256"] == digest[7:]
        packages = statement["predicate"]["packages"]
        names = {package["name"] for package in packages}
        # The Python the image runs, from Debian, and what the entry installs on top of it.
        assert "python3.11" in names, sorted(names)[:50]
        # The project's wheel is in both (the catalog's images run the bridge); only the
        # catalog entry's has its package.
        assert "mcp-servers" in names
        is_catalog_entry = reference.endswith(image_ref(CATALOG))
        assert ("mcp-server-time" in names) == is_catalog_entry, reference
        # The SBOM is of this platform's image: its Debian packages are of its architecture.
        debian = [
            ref["referenceLocator"]
            for package in packages
            for ref in package.get("externalRefs", [])
            if ref["referenceLocator"].startswith("pkg:deb/debian/python3.11@")
        ]
        assert debian and all(f"arch={arch}" in purl for purl in debian), debian


def test_verify_release_passes_a_release_as_made(released: Release) -> None:
    verified = released.verify()
    assert verified.returncode == 0, verified.stderr
    checked = [line.split()[0] for line in verified.stdout.splitlines()]
    assert sorted(checked) == sorted(released.digests())
    assert all(line.endswith(" verified") for line in verified.stdout.splitlines())


def test_verify_release_with_another_key_names_every_artifact(
    released: Release, tmp_path: Path
) -> None:
    key_pair(tmp_path)
    stderr = failures(released.verify(env={"COSIGN_PUBLIC_KEY": str(tmp_path / "cosign.pub")}))
    for reference, digest in released.digests().items():
        assert f"{reference} ({digest}): bad signature" in stderr


def test_verify_names_an_artifact_missing_from_the_registry(released: Release) -> None:
    # git's image is built for neither platform here: verify needs none of them locally.
    missing = f"{released.target}/{image_ref('git')}"
    stderr = failures(released.verify(f"CATALOG={CATALOG} git"))
    assert f"{missing}: not in the registry" in stderr
    assert "1 problem(s) in the release's 4 artifacts" in stderr


def test_registry_script_stops_without_leaving_a_process() -> None:
    port = free_port()
    state = REPO / ".run" / "registry" / str(port)
    try:
        assert registry_script("start", port).returncode == 0
        pid = int((state / "registry.pid").read_text())
        assert running(pid)
        assert registry_script("status", port).returncode == 0
        assert listening_addresses(port) == {LOOPBACK_HEX}
        assert Registry(registry_script("url", port).stdout.strip()).repositories() == []
        assert registry_script("stop", port).returncode == 0
        assert not running(pid)
        assert listening_addresses(port) == set()
        assert registry_script("status", port).returncode != 0
        # The storage outlives a stop; destroy removes it.
        assert (state / "storage").is_dir()
    finally:
        assert registry_script("destroy", port).returncode == 0
    assert not state.exists()
