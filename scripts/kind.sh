#!/usr/bin/env bash
# The kind path for users with Docker and internet access:
#   kind.sh up     create the cluster (KIND_CLUSTER, default mcp-servers; KIND_NODE_IMAGE to pin)
#   kind.sh load   load the server images (SERVERS, default every registered server) into the node
#   kind.sh down   delete the cluster
# Then `make install SERVER=todo`. kind boots its node from the kindest/node image on Docker Hub,
# so this cannot run on a machine without a container registry (such as the project's CI) unless
# that image is already in the local engine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
export PATH="${ROOT}/.tools/bin:${PATH}"
CLUSTER="${KIND_CLUSTER:-mcp-servers}"
SERVERS="${SERVERS:-$(python3 "${ROOT}/scripts/server_registry.py" names)}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "${ROOT}/pyproject.toml" | head -n 1)"

command -v kind >/dev/null 2>&1 || die "kind is not installed; run 'make tools'"

cluster_exists() { kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; }

up() {
  bash "${ROOT}/scripts/docker-engine.sh"
  if cluster_exists; then
    log "cluster ${CLUSTER} exists"
  else
    local image=()
    [ -n "${KIND_NODE_IMAGE:-}" ] && image=(--image "${KIND_NODE_IMAGE}")
    kind create cluster --name "${CLUSTER}" "${image[@]}" --wait 120s \
      || die "kind could not create ${CLUSTER}; it needs its node image (kindest/node) from Docker Hub or KIND_NODE_IMAGE already in the engine"
  fi
  kubectl_context="kind-${CLUSTER}"
  log "cluster ${CLUSTER} ready (kube context ${kubectl_context}); next: make kind-load, make install SERVER=todo"
}

load() {
  cluster_exists || die "no cluster ${CLUSTER}; run 'make kind-up' first"
  local prefix server_image
  prefix="$(image_prefix)"
  for server in ${SERVERS}; do
    server_image="${prefix}/${server}:${VERSION}"
    docker image inspect "${server_image}" >/dev/null 2>&1 \
      || die "image ${server_image} is missing; run 'make build-images SERVERS=${server}'"
    kind load docker-image "${server_image}" --name "${CLUSTER}"
  done
}

down() {
  if cluster_exists; then kind delete cluster --name "${CLUSTER}"; else log "no cluster ${CLUSTER}"; fi
}

case "${1:-}" in
  up) up ;;
  load) load ;;
  down) down ;;
  *) die "usage: kind.sh up|load|down (got '${1:-}')" ;;
esac
