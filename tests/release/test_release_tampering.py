"""What `make verify-release` says when someone tampers with a release in the registry (each
test with another artifact or part of it, so that what one breaks does not hide what another
checks), and what `make release` says of bad input. Its own module, so that pytest-xdist runs it
beside test_release.py: each makes a release of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness.processes import free_port
from oci_release import (
    COSIGN_PASSWORD,
    SERVERS,
    Registry,
    TamperedRelease,
    chart_reference,
    failures,
    image_references,
    key_pair,
    local_arch_image,
    local_image_ref,
    make,
    run,
)

# Cold: a release builds the images it lacks and the tools when `make tools` has not run.
pytestmark = pytest.mark.timeout(1800)


def test_release_signs_with_the_key_it_is_given(tampered: TamperedRelease) -> None:
    assert tampered.key is not None
    # Nothing generated: COSIGN_KEY signed, and its public key verified.
    assert not (tampered.directory / "cosign.key").exists()
    verified = tampered.verified_as_made
    assert verified is not None and verified.returncode == 0, verified and verified.stderr
    assert sorted(line.split()[0] for line in verified.stdout.splitlines()) == sorted(
        tampered.digests()
    )
    # Without COSIGN_KEY, verify wants the public key of a pair RELEASE_DIR never had.
    other = tampered.verify(env={"COSIGN_KEY": ""})
    assert other.returncode != 0
    assert "cosign.pub does not exist" in other.stderr


def test_verify_names_an_image_whose_list_signature_was_deleted(
    tampered: TamperedRelease,
) -> None:
    reference = image_references(tampered)[0]
    digest = tampered.digests()[reference]
    repository, _ = tampered.repository(reference)
    tampered.registry.delete(repository, digest.replace(":", "-") + ".sig")
    assert f"{reference} ({digest}): missing signature" in failures(tampered.verify())


@pytest.mark.parametrize(
    ("tag_suffix", "problem"),
    [(".sig", "missing signature"), (".att", "missing SBOM attestation")],
    ids=["signature", "sbom"],
)
def test_verify_names_the_platform_whose_signature_or_sbom_was_deleted(
    tampered: TamperedRelease, tag_suffix: str, problem: str
) -> None:
    reference = image_references(tampered)[0]
    digest = tampered.digests()[reference]
    repository, _ = tampered.repository(reference)
    arm64 = tampered.registry.platforms(repository, digest)["linux/arm64"]
    tampered.registry.delete(repository, arm64.replace(":", "-") + tag_suffix)
    assert f"{reference} ({digest}) linux/arm64 ({arm64}): {problem}" in failures(tampered.verify())


def test_verify_names_a_tag_another_image_was_pushed_over(tampered: TamperedRelease) -> None:
    # The catalog entry's tag now holds the server's amd64 image: signed, but elsewhere, and a
    # single image instead of the list.
    reference = image_references(tampered)[1]
    intruder = local_image_ref(SERVERS)
    assert run("docker", "tag", intruder, reference).returncode == 0
    try:
        pushed = run("docker", "push", reference)
        assert pushed.returncode == 0, pushed.stderr
    finally:
        run("docker", "rmi", reference)
    repository, tag = tampered.repository(reference)
    digest = tampered.registry.digest(repository, tag)
    assert digest != tampered.digests()[reference]
    stderr = failures(tampered.verify())
    assert f"{reference} ({digest}): missing signature" in stderr
    assert f"{reference} ({digest}): missing SBOM attestation" in stderr
    assert f"{reference} ({digest}): not a manifest list of linux/amd64 linux/arm64" in stderr


def test_verify_names_a_chart_signed_with_another_key(
    tampered: TamperedRelease, tmp_path: Path
) -> None:
    reference = chart_reference(tampered)
    digest = tampered.digests()[reference]
    repository, _ = tampered.repository(reference)
    other_key = key_pair(tmp_path)
    tampered.registry.delete(repository, digest.replace(":", "-") + ".sig")
    signed = run(
        "cosign",
        "sign",
        "--yes",
        "--tlog-upload=false",
        "--allow-http-registry",
        "--key",
        str(other_key),
        f"{reference}@{digest}",
        env={"COSIGN_PASSWORD": COSIGN_PASSWORD},
    )
    assert signed.returncode == 0, signed.stderr
    assert f"{reference} ({digest}): bad signature" in failures(tampered.verify())


def test_release_refuses_a_registry_with_a_scheme(registry: Registry) -> None:
    refused = make("release", f"REGISTRY=http://{registry.address}/scheme", f"SERVERS={SERVERS}")
    assert refused.returncode != 0
    assert (
        f"REGISTRY must be host[:port]/path without a scheme, got 'http://{registry.address}/scheme'"
        in refused.stderr
    )
    assert not any(name.startswith("scheme/") for name in registry.repositories())


def test_release_names_an_image_that_is_not_built(registry: Registry) -> None:
    refused = make(
        "release",
        f"REGISTRY={registry.address}/unbuilt",
        "RELEASE_IMAGES=localhost/mcp-servers/never-built:0.0.0",
        env={"COSIGN_PASSWORD": COSIGN_PASSWORD},
    )
    assert refused.returncode != 0
    assert (
        "not built: localhost/mcp-servers/never-built:0.0.0"
        f" {local_arch_image('localhost/mcp-servers/never-built:0.0.0', 'arm64')};"
        ' run: make build-images SERVERS="never-built" ARCHES="amd64 arm64"' in refused.stderr
    )


def test_release_names_an_unknown_architecture(registry: Registry) -> None:
    refused = make(
        "release", f"REGISTRY={registry.address}/arches", f"SERVERS={SERVERS}", "ARCHES=amd64 s390x"
    )
    assert refused.returncode != 0
    assert "unknown architecture 's390x' in ARCHES (known: amd64 arm64)" in refused.stderr


def test_release_names_a_registry_that_does_not_answer() -> None:
    address = f"127.0.0.1:{free_port()}"
    refused = make("verify-release", f"REGISTRY={address}/nowhere", f"SERVERS={SERVERS}")
    assert refused.returncode != 0
    assert (
        f"the registry {address}/nowhere does not answer at http://{address}/v2/" in refused.stderr
    )
