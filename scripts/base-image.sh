#!/usr/bin/env bash
# Builds the local Python base images from Debian packages only: debootstrap a minbase bookworm
# root filesystem, make it an image (FROM scratch + ADD, so that the image records its
# architecture), then install python3 + python3-venv with apt (images/base/Dockerfile):
# BASE_IMAGE (default localhost/mcp-servers/python-base:bookworm) for the final stage of
# images/Dockerfile and BUILD_IMAGE (localhost/mcp-servers/python-build:bookworm, plus binutils)
# for its build stage. Used where python:3.11-slim and python:3.11 cannot be pulled.
#   ARCH=arm64   the pair for another architecture, tagged ...:bookworm-arm64 (lib.sh arch_tag),
#                built under emulation (Debian's qemu-user 10+, installed when missing)
# Idempotent: existing images are kept unless FORCE=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
ARCH="${ARCH:-$(host_arch)}"
check_arches "${ARCH}"
PREFIX="$(image_prefix)"
BASE_IMAGE="${BASE_IMAGE:-$(arch_tag "${PREFIX}/python-base:bookworm" "${ARCH}")}"
BUILD_IMAGE="${BUILD_IMAGE:-$(arch_tag "${PREFIX}/python-build:bookworm" "${ARCH}")}"
ROOTFS_IMAGE="${ROOTFS_IMAGE:-$(arch_tag "${PREFIX}/debian-rootfs:bookworm" "${ARCH}")}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FORCE="${FORCE:-0}"

bash "${ROOT}/scripts/docker-engine.sh" >&2

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

if has_image "${BASE_IMAGE}" && has_image "${BUILD_IMAGE}" && [ "${FORCE}" != 1 ]; then
  log "${BASE_IMAGE} and ${BUILD_IMAGE} exist (FORCE=1 rebuilds)"
  exit 0
fi

require_emulation "${ARCH}"
# Emulated, every step runs several times slower.
about() { if [ "${ARCH}" = "$(host_arch)" ]; then echo "$1"; else echo "$2 under ${ARCH} emulation"; fi; }
# The engine's legacy builder (no BuildKit here) honours --platform; `docker import` ignores it.
build() { DOCKER_BUILDKIT=0 docker build --platform "linux/${ARCH}" "$@"; }

start=$(date +%s)
if ! has_image "${ROOTFS_IMAGE}" || [ "${FORCE}" = 1 ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    long "installing debootstrap" "under a minute" apt_install debootstrap
  fi
  scratch="$(mktemp -d /tmp/mcp-rootfs.XXXXXX)"
  trap 'rm -rf "${scratch}"' EXIT
  rootfs="${scratch}/rootfs"
  long "debootstrap --arch=${ARCH} --variant=minbase bookworm (${MIRROR})" "$(about "30-60 s" "3-5 min")" \
    debootstrap --arch="${ARCH}" --variant=minbase bookworm "${rootfs}" "${MIRROR}"
  # Shrink before import: these are re-created by apt when needed.
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/* \
    "${rootfs}"/usr/share/doc/* "${rootfs}"/usr/share/man/* "${rootfs}"/usr/share/locale/*
  tar --numeric-owner -C "${rootfs}" --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' \
    -cf "${scratch}/rootfs.tar" .
  rm -rf "${rootfs}"
  printf '%s\n' 'FROM scratch' 'ADD rootfs.tar /' 'CMD ["/bin/bash"]' >"${scratch}/Dockerfile"
  long "docker build ${ROOTFS_IMAGE} (the root filesystem as an image)" "10-20 s" \
    build -t "${ROOTFS_IMAGE}" "${scratch}"
fi

for target in python-base python-build; do
  tag="${BASE_IMAGE}"
  [ "${target}" = python-build ] && tag="${BUILD_IMAGE}"
  long "docker build ${tag} (apt installs python3 python3-venv$([ "${target}" = python-build ] && echo ' binutils'))" \
    "$(about "1-2 min" "3-6 min")" \
    build --build-arg "ROOTFS_IMAGE=${ROOTFS_IMAGE}" --target "${target}" -t "${tag}" "${ROOT}/images/base"
done
size=$(docker image inspect -f '{{.Size}}' "${BASE_IMAGE}")
python=$(docker run --rm --platform "linux/${ARCH}" "${BASE_IMAGE}" python3 --version)
machine=$(docker run --rm --platform "linux/${ARCH}" "${BASE_IMAGE}" python3 -c 'import platform; print(platform.machine())')
[ "${machine}" = "$(machine_of "${ARCH}")" ] \
  || die "${BASE_IMAGE} runs as ${machine}, not $(machine_of "${ARCH}") (ARCH=${ARCH})"
log "${BASE_IMAGE} ready: ${python} on ${machine}, $((size / 1000000)) MB, $(( $(date +%s) - start )) s"
