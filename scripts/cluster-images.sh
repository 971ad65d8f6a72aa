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

save_and_import() { docker save "$@" | ctr_k8s images import -; }
stamp_of() { echo "${STAMPS}/$(echo "$1" | tr '/:' '__').id"; }

# import IMAGE...: copy Docker engine images into containerd, leaving out those whose image ID is
# there already. The rest go in one `docker save`, so the layers they share (the base image's)
# are written and read once, not once per image.
import() {
  local image id stale=() ids=() i present
  present="$(ctr_k8s images ls -q)"
  for image in "$@"; do
    id="$(docker image inspect --format '{{.Id}}' "${image}")"
    if [ "$(cat "$(stamp_of "${image}")" 2>/dev/null)" = "${id}" ] \
      && grep -qE "(^|/)${image}\$" <<<"${present}"; then
      continue
    fi
    stale+=("${image}")
    ids+=("${id}")
  done
  ((${#stale[@]})) || return 0
  long "importing ${stale[*]##*/} into the node's containerd" "10-30 s an image" save_and_import "${stale[@]}"
  mkdir -p "${STAMPS}"
  for i in "${!stale[@]}"; do echo "${ids[i]}" >"$(stamp_of "${stale[i]}")"; done
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
  binary_image "${COREDNS_IMAGE}" "${ROOT}/.tools/bin/coredns" "${ROOT}/cluster/images/coredns/Dockerfile"
  import "${PAUSE_IMAGE}"
  import "${COREDNS_IMAGE}"
}

# binary_image IMAGE BINARY DOCKERFILE [BUILD_ARG...]: IMAGE from a .tools binary, which the
# Dockerfile copies by its file name. The image carries the binary's digest as a label: a rebuilt
# binary (same version, other wrapper module) makes a new image, which import then brings into
# containerd; an unchanged one is left alone.
binary_image() {
  local image="$1" binary="$2" dockerfile="$3" context
  shift 3
  image_is_current "${image}" "${binary}" && return
  context="$(mktemp -d)"
  cp "${binary}" "${context}/"
  docker build -q --label "binary-sha256=$(sha256sum "${binary}" | cut -d' ' -f1)" "$@" \
    -t "${image}" -f "${dockerfile}" "${context}" >/dev/null
  rm -rf "${context}"
}

# image_is_current IMAGE BINARY: IMAGE was built from this very BINARY (see binary_image).
image_is_current() {
  local image="$1" binary="$2"
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  [ -x "${binary}" ] || die "missing ${binary#"${ROOT}/"}; run 'bash scripts/install-tools.sh $(basename "${binary}")'"
  [ "$(docker image inspect --format '{{index .Config.Labels "binary-sha256"}}' "${image}" 2>/dev/null)" \
    = "$(sha256sum "${binary}" | cut -d' ' -f1)" ]
}

build_traefik() {
  binary_image "${TRAEFIK_IMAGE}" "${ROOT}/.tools/bin/traefik" "${ROOT}/cluster/images/traefik/Dockerfile"
}

# debian_base: prints a Debian bookworm image the Docker engine has: debian:bookworm-slim where
# pullable, else the one scripts/base-image.sh makes from Debian's packages.
debian_base() {
  local base="debian:bookworm-slim"
  if ! has_docker_image "${base}" && ! pull_image "${base}" 60 >/dev/null; then
    log "${base} cannot be pulled here: using the local Debian base"
    bash "${ROOT}/scripts/base-image.sh" >&2
    base="$(image_prefix)/debian-rootfs:bookworm"
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
# Debian bookworm base, not scratch, and a new image is tried (`hydra version`) so a binary built
# elsewhere fails here rather than as a crash-looping pod.
build_hydra() {
  local base
  image_is_current "${HYDRA_IMAGE}" "${ROOT}/.tools/bin/hydra" && return
  base="$(debian_base)"
  binary_image "${HYDRA_IMAGE}" "${ROOT}/.tools/bin/hydra" "${ROOT}/cluster/images/hydra/Dockerfile" \
    --build-arg "BASE_IMAGE=${base}"
  docker run --rm "${HYDRA_IMAGE}" version >/dev/null \
    || die "${HYDRA_IMAGE} does not run: .tools/bin/hydra needs another glibc than ${base}'s"
}

build_metrics_server() {
  binary_image "${METRICS_SERVER_IMAGE}" "${ROOT}/.tools/bin/metrics-server" \
    "${ROOT}/cluster/images/metrics-server/Dockerfile"
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
  # For scripts/cluster.sh's steps, which load the image themselves.
  binary-image) shift; binary_image "$@" ;;
  metrics-server) build_metrics_server && import "${METRICS_SERVER_IMAGE}" ;;
  load)
    shift
    for image in "$@"; do
      has_docker_image "${image}" || { log "error: ${image} is not in the Docker engine; run 'make build-images'"; exit 1; }
    done
    import "$@"
    ;;
  *) echo "usage: cluster-images.sh system | postgresql | build-postgresql | traefik | build-traefik | hydra | build-hydra | metrics-server | build-metrics-server | binary-image IMAGE BINARY DOCKERFILE [ARG...] | load IMAGE..." >&2; exit 2 ;;
esac
