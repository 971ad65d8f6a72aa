#!/usr/bin/env bash
# Builds the local Python base images from Debian packages only: debootstrap a minbase bookworm
# root filesystem, `docker import` it, then install python3 + python3-venv with apt
# (images/base/Dockerfile): BASE_IMAGE (default localhost/mcp-servers/python-base:bookworm) for the final
# stage of images/Dockerfile and BUILD_IMAGE (localhost/mcp-servers/python-build:bookworm, plus binutils)
# for its build stage. Used where python:3.11-slim and python:3.11 cannot be pulled.
# Idempotent: existing images are kept unless FORCE=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
PREFIX="$(image_prefix)"
BASE_IMAGE="${BASE_IMAGE:-${PREFIX}/python-base:bookworm}"
BUILD_IMAGE="${BUILD_IMAGE:-${PREFIX}/python-build:bookworm}"
ROOTFS_IMAGE="${ROOTFS_IMAGE:-${PREFIX}/debian-rootfs:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
FORCE="${FORCE:-0}"

bash "${ROOT}/scripts/docker-engine.sh" >&2

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

if has_image "${BASE_IMAGE}" && has_image "${BUILD_IMAGE}" && [ "${FORCE}" != 1 ]; then
  log "${BASE_IMAGE} and ${BUILD_IMAGE} exist (FORCE=1 rebuilds)"
  exit 0
fi

start=$(date +%s)
if ! has_image "${ROOTFS_IMAGE}" || [ "${FORCE}" = 1 ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    long "installing debootstrap" "under a minute" apt_install debootstrap
  fi
  rootfs="$(mktemp -d /tmp/mcp-rootfs.XXXXXX)"
  trap 'rm -rf "${rootfs}"' EXIT
  long "debootstrap --variant=minbase bookworm (${MIRROR})" "30-60 s" \
    debootstrap --variant=minbase bookworm "${rootfs}" "${MIRROR}"
  # Shrink before import: these are re-created by apt when needed.
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/* \
    "${rootfs}"/usr/share/doc/* "${rootfs}"/usr/share/man/* "${rootfs}"/usr/share/locale/*
  log "docker import -> ${ROOTFS_IMAGE}"
  tar --numeric-owner -C "${rootfs}" --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -c . \
    | docker import --change 'CMD ["/bin/bash"]' - "${ROOTFS_IMAGE}" >&2
fi

for target in python-base python-build; do
  tag="${BASE_IMAGE}"
  [ "${target}" = python-build ] && tag="${BUILD_IMAGE}"
  long "docker build ${tag} (apt installs python3 python3-venv$([ "${target}" = python-build ] && echo ' binutils'))" "1-2 min" \
    docker build --build-arg "ROOTFS_IMAGE=${ROOTFS_IMAGE}" --target "${target}" -t "${tag}" "${ROOT}/images/base"
done
size=$(docker image inspect -f '{{.Size}}' "${BASE_IMAGE}")
python=$(docker run --rm "${BASE_IMAGE}" python3 --version)
log "${BASE_IMAGE} ready: ${python}, $((size / 1000000)) MB, $(( $(date +%s) - start )) s"
