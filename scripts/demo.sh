#!/usr/bin/env bash
# `make demo`: the fleet on the cluster from `make cluster-up` (images already loaded by
# `make cluster-load`): the in-cluster PostgreSQL, one release `mcp-fleet` in namespace mcp
# with todo, postgres, memory (CPU) and the inline-code greeter, helm test, a real tool call
# through a port-forward, and a .mcp.json pointing at those port-forwards (kept running until
# `make cluster-down`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
export PATH="${ROOT}/.tools/bin:${PATH}"
export KUBECONFIG="${ROOT}/.run/cluster/kubeconfig"
NAMESPACE="${NAMESPACE:-mcp}"
RELEASE=mcp-fleet
FORWARDS="${ROOT}/.run/port-forwards"
CI="${ROOT}/charts/mcp-servers/ci"
# release server:registry entry; each is port-forwarded to 10000 + its registry port
SERVERS=(todo:todo postgres:postgres memory:memory greeter:runtime)
local_port() { echo $((10000 + $(python3 "${ROOT}/scripts/server_registry.py" get "${1#*:}" port))); }

# `make demo` sets DEMO_STARTED when make starts, so the total includes tools, cluster and images.
DEMO_STARTED="${DEMO_STARTED:-$(date +%s)}"
began=$SECONDS

[ -f "${KUBECONFIG}" ] || { log "no cluster; run 'make cluster-up'"; exit 1; }
long "starting the in-cluster PostgreSQL (its image is built once)" "1-3 min the first time, seconds after" \
  bash "${ROOT}/scripts/cluster.sh" postgresql
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "${NAMESPACE}" apply -f "${ROOT}/cluster/manifests/database-secrets.yaml" >/dev/null

long "installing ${RELEASE} into namespace ${NAMESPACE} and waiting for every pod" "1-3 min" \
  helm upgrade --install "${RELEASE}" "${ROOT}/charts/mcp-servers" --namespace "${NAMESPACE}" \
  -f "${CI}/todo-values.yaml" -f "${CI}/postgres-values.yaml" -f "${CI}/memory-cpu-values.yaml" \
  -f "${ROOT}/values/greeter-code.yaml" --wait --timeout 10m
log "helm test ${RELEASE} (a real MCP call to each server from inside the cluster)"
helm test "${RELEASE}" --namespace "${NAMESPACE}" --logs | grep -E '^(NAME|Phase|ok:)' || true

mkdir -p "${FORWARDS}"
for entry in "${SERVERS[@]}"; do
  name="${entry%%:*}" port="$(local_port "${entry}")" pidfile="${FORWARDS}/${name}.pid"
  if [ -f "${pidfile}" ] && kill -0 "$(cat "${pidfile}")" 2>/dev/null; then continue; fi
  service_port="$(kubectl -n "${NAMESPACE}" get service "${name}-mcp" -o jsonpath='{.spec.ports[0].port}')"
  setsid kubectl -n "${NAMESPACE}" port-forward "service/${name}-mcp" "${port}:${service_port}" \
    --address 127.0.0.1 >"${FORWARDS}/${name}.log" 2>&1 </dev/null &
  echo $! >"${pidfile}"
done
for entry in "${SERVERS[@]}"; do
  port="$(local_port "${entry}")"
  for _ in $(seq 30); do curl -fsS "http://127.0.0.1:${port}/health" >/dev/null 2>&1 && break; sleep 1; done
done

log "calling tools through the cluster"
"${ROOT}/.tools/bin/uv" run --frozen --project "${ROOT}" python "${ROOT}/scripts/demo_call.py" \
  "http://127.0.0.1:$(local_port todo:todo)/mcp" "http://127.0.0.1:$(local_port memory:memory)/mcp"

echo
echo "The fleet runs in namespace ${NAMESPACE} (release ${RELEASE}); port-forwards stay up until 'make cluster-down'."
pairs=()
for entry in "${SERVERS[@]}"; do
  pairs+=("${entry%%:*}=http://127.0.0.1:$(local_port "${entry}")/mcp")
done
echo "Ready-to-paste client configurations:"
python3 "${ROOT}/scripts/client_configs.py" --format all "${pairs[@]}"
total=$(( $(date +%s) - DEMO_STARTED ))
log "done: this script took $(elapsed "${began}"), make demo $((total / 60))m$(printf '%02d' $((total % 60)))s in all"
