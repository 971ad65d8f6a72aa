#!/usr/bin/env bash
# Builds images the local node needs and imports them into its containerd (CONTAINERD_SOCK):
#   cluster-images.sh system              the pause (pod sandbox) and CoreDNS images
#   cluster-images.sh load IMAGE...       images from the Docker engine, re-imported when changed
#   cluster-images.sh postgresql          the in-cluster PostgreSQL used by ct install and tests
#   cluster-images.sh build-postgresql    only build it in the Docker engine (for kind)
#   cluster-images.sh traefik             the Ingress/Gateway API controller of cluster.sh ingress
#   cluster-images.sh build-traefik       only build it in the Docker engine (for kind)
#   cluster-images.sh hydra               the OpenID provider of cluster.sh oidc (Ory Hydra)
#   cluster-images.sh build-hydra         only build it in the Docker engine (for kind)
#   cluster-images.sh metrics-server      the resource metrics API of cluster.sh metrics-server
#   cluster-images.sh build-metrics-server  only build it in the Docker engine (for kind)
# Nothing is pulled: pause is a static C binary, CoreDNS and Traefik Go binaries from make
# cluster-tools, PostgreSQL Debian's package and Hydra make tools' binary on the local Debian
# base (or debian:bookworm-slim where pullable).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
RUN="${ROOT}/.run/cluster"
CONTAINERD_SOCK="${CONTAINERD_SOCK:-${RUN}/containerd/containerd.sock}"
PAUSE_IMAGE="mcp-servers.local/pause:3.10"
COREDNS_IMAGE="mcp-servers.local/coredns:1.12.1"
POSTGRESQL_IMAGE="mcp-servers.local/postgresql:15"
TRAEFIK_IMAGE="mcp-servers.local/traefik:v3.7.13"
HYDRA_IMAGE="mcp-servers.local/hydra:v2.3.0"
METRICS_SERVER_IMAGE="mcp-servers.local/metrics-server:v0.8.0"
STAMPS="${RUN}/images"

ctr_k8s() { ctr --address "${CONTAINERD_SOCK}" --namespace k8s.io "$@"; }
has_docker_image() { docker image inspect "$1" >/dev/null 2>&1; }

save_and_import() { docker save "$1" | ctr_k8s images import -; }

# import IMAGE: copy a Docker engine image into containerd unless the same image ID is there
import() {
  local image="$1" id stamp
  id="$(docker image inspect --format '{{.Id}}' "${image}")"
  stamp="${STAMPS}/$(echo "${image}" | tr '/:' '__').id"
  if [ "$(cat "${stamp}" 2>/dev/null)" = "${id}" ] && ctr_k8s images ls -q | grep -qE "(^|/)${image}\$"; then
    return
  fi
  long "importing ${image} into the node's containerd" "10-60 s" save_and_import "${image}"
  mkdir -p "${STAMPS}"
  echo "${id}" >"${stamp}"
}

build_system() {
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  local context
  if ! has_docker_image "${PAUSE_IMAGE}"; then
    context="$(mktemp -d)"
    gcc -Os -static -o "${context}/pause" "${ROOT}/cluster/images/pause/pause.c"
    docker build -q -t "${PAUSE_IMAGE}" -f "${ROOT}/cluster/images/pause/Dockerfile" "${context}" >/dev/null
    rm -rf "${context}"
  fi
  if ! has_docker_image "${COREDNS_IMAGE}"; then
    context="$(mktemp -d)"
    cp "${ROOT}/.tools/bin/coredns" "${context}/coredns"
    docker build -q -t "${COREDNS_IMAGE}" -f "${ROOT}/cluster/images/coredns/Dockerfile" "${context}" >/dev/null
    rm -rf "${context}"
  fi
  import "${PAUSE_IMAGE}"
  import "${COREDNS_IMAGE}"
}

# The image carries the binary's digest as a label: a rebuilt binary (same version, other
# wrapper module) makes a new image, which import then brings into containerd.
build_traefik() {
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  local binary="${ROOT}/.tools/bin/traefik" digest context
  [ -x "${binary}" ] || die "missing .tools/bin/traefik; run 'bash scripts/install-tools.sh traefik'"
  digest="$(sha256sum "${binary}" | cut -d' ' -f1)"
  if [ "$(docker image inspect --format '{{index .Config.Labels "binary-sha256"}}' "${TRAEFIK_IMAGE}" 2>/dev/null)" != "${digest}" ]; then
    context="$(mktemp -d)"
    cp "${binary}" "${context}/traefik"
    docker build -q --label "binary-sha256=${digest}" -t "${TRAEFIK_IMAGE}" \
      -f "${ROOT}/cluster/images/traefik/Dockerfile" "${context}" >/dev/null
    rm -rf "${context}"
  fi
}

# debian_base: prints a Debian bookworm image the Docker engine has: debian:bookworm-slim where
# pullable, else the one scripts/base-image.sh makes from Debian's packages.
debian_base() {
  local base="debian:bookworm-slim"
  if ! has_docker_image "${base}" && ! timeout 60 docker pull -q "${base}" >&2; then
    log "${base} cannot be pulled here: using the local Debian base"
    bash "${ROOT}/scripts/base-image.sh" >&2
    base="mcp-servers/debian-rootfs:bookworm"
  fi
  echo "${base}"
}

build_postgresql() {
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  if ! has_docker_image "${POSTGRESQL_IMAGE}"; then
    local base
    base="$(debian_base)"
    long "building ${POSTGRESQL_IMAGE} from ${base}" "1-2 min" \
      docker build --build-arg "BASE_IMAGE=${base}" -t "${POSTGRESQL_IMAGE}" "${ROOT}/cluster/images/postgresql"
  fi
}

# Hydra's binary is cgo (SQLite), linked against this host's glibc (Debian 12): it goes on a
# Debian bookworm base, not scratch, and the image is tried once (`hydra version`) so a binary
# built elsewhere fails here rather than as a crash-looping pod. Labelled with the binary's
# digest, as Traefik's.
build_hydra() {
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  local binary="${ROOT}/.tools/bin/hydra" digest context base
  [ -x "${binary}" ] || die "missing .tools/bin/hydra; run 'bash scripts/install-tools.sh hydra'"
  digest="$(sha256sum "${binary}" | cut -d' ' -f1)"
  if [ "$(docker image inspect --format '{{index .Config.Labels "binary-sha256"}}' "${HYDRA_IMAGE}" 2>/dev/null)" != "${digest}" ]; then
    base="$(debian_base)"
    context="$(mktemp -d)"
    cp "${binary}" "${context}/hydra"
    docker build -q --build-arg "BASE_IMAGE=${base}" --label "binary-sha256=${digest}" \
      -t "${HYDRA_IMAGE}" -f "${ROOT}/cluster/images/hydra/Dockerfile" "${context}" >/dev/null
    rm -rf "${context}"
    docker run --rm "${HYDRA_IMAGE}" version >/dev/null \
      || die "${HYDRA_IMAGE} does not run: .tools/bin/hydra needs another glibc than ${base}'s"
  fi
}

# A static binary on scratch, labelled with its digest as Traefik's.
build_metrics_server() {
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  local binary="${ROOT}/.tools/bin/metrics-server" digest context
  [ -x "${binary}" ] || die "missing .tools/bin/metrics-server; run 'bash scripts/install-tools.sh metrics-server'"
  digest="$(sha256sum "${binary}" | cut -d' ' -f1)"
  if [ "$(docker image inspect --format '{{index .Config.Labels "binary-sha256"}}' "${METRICS_SERVER_IMAGE}" 2>/dev/null)" != "${digest}" ]; then
    context="$(mktemp -d)"
    cp "${binary}" "${context}/metrics-server"
    docker build -q --label "binary-sha256=${digest}" -t "${METRICS_SERVER_IMAGE}" \
      -f "${ROOT}/cluster/images/metrics-server/Dockerfile" "${context}" >/dev/null
    rm -rf "${context}"
  fi
}

case "${1:-}" in
  system) build_system ;;
  build-postgresql) build_postgresql ;;
  postgresql) build_postgresql && import "${POSTGRESQL_IMAGE}" ;;
  build-traefik) build_traefik ;;
  traefik) build_traefik && import "${TRAEFIK_IMAGE}" ;;
  build-hydra) build_hydra ;;
  hydra) build_hydra && import "${HYDRA_IMAGE}" ;;
  build-metrics-server) build_metrics_server ;;
  metrics-server) build_metrics_server && import "${METRICS_SERVER_IMAGE}" ;;
  load)
    shift
    for image in "$@"; do
      has_docker_image "${image}" || { log "error: ${image} is not in the Docker engine; run 'make build-images'"; exit 1; }
      import "${image}"
    done
    ;;
  *) echo "usage: cluster-images.sh system | postgresql | build-postgresql | traefik | build-traefik | hydra | build-hydra | metrics-server | build-metrics-server | load IMAGE..." >&2; exit 2 ;;
esac
