#!/usr/bin/env bash
# `make demo`: the fleet on the cluster from `make cluster-up` (images already loaded by
# `make cluster-load`): the in-cluster PostgreSQL, one release `mcp-fleet` in namespace mcp
# with todo, postgres, memory (CPU) and the inline-code greeter, helm test, a real tool call
# through a port-forward, and a .mcp.json pointing at those port-forwards (kept running until
# `make cluster-down`). Beside the fleet, the reference backend
# (cluster/manifests/todo-backend.yaml) serves /api/tasks over todo's tools, port-forwarded to
# 127.0.0.1:18080 and called once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
export PATH="${ROOT}/.tools/bin:${PATH}"
export KUBECONFIG="${ROOT}/.run/cluster/kubeconfig"
NAMESPACE="${NAMESPACE:-mcp}"
RELEASE=mcp-fleet
FORWARDS="${ROOT}/.run/port-forwards"
# release server:registry entry; each is port-forwarded to 10000 + its registry port
SERVERS=(todo:todo postgres:postgres memory:memory greeter:runtime)
local_port() { echo $((10000 + $(python3 "${ROOT}/scripts/server_registry.py" get "${1#*:}" port))); }
BACKEND_PORT=18080
BACKEND="http://127.0.0.1:${BACKEND_PORT}"

# `make demo` sets DEMO_STARTED when make starts, so the total includes tools, cluster and images.
DEMO_STARTED="${DEMO_STARTED:-$(date +%s)}"
began=$SECONDS

[ -f "${KUBECONFIG}" ] || { log "no cluster; run 'make cluster-up'"; exit 1; }
long "starting the in-cluster PostgreSQL (its image is built once)" "1-3 min the first time, seconds after" \
  bash "${ROOT}/scripts/cluster.sh" postgresql
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "${NAMESPACE}" apply -f "${ROOT}/cluster/manifests/database-secrets.yaml" >/dev/null
# Applied first, so it starts while helm waits for the fleet; it calls todo only when called.
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "${ROOT}/pyproject.toml" | head -n 1)"
sed -e "s|@IMAGE@|$(image_prefix)/todo-backend:${VERSION}|" \
  -e "s|@TODO_URL@|http://todo-mcp.${NAMESPACE}.svc.cluster.local:8001|" \
  "${ROOT}/cluster/manifests/todo-backend.yaml" | kubectl -n "${NAMESPACE}" apply -f - >/dev/null

long "installing ${RELEASE} into namespace ${NAMESPACE} and waiting for every pod" "1-3 min" \
  helm upgrade --install "${RELEASE}" "${ROOT}/charts/mcp-servers" --namespace "${NAMESPACE}" \
  -f "${ROOT}/values/todo.yaml" -f "${ROOT}/cluster/values/todo.yaml" \
  -f "${ROOT}/values/postgres.yaml" -f "${ROOT}/cluster/values/postgres.yaml" \
  -f "${ROOT}/values/memory-cpu.yaml" -f "${ROOT}/cluster/values/memory-cpu.yaml" \
  -f "${ROOT}/values/greeter-code.yaml" \
  --set-json 'servers.todo.networkPolicy.ingressFrom=[{"podSelector":{"matchLabels":{"app.kubernetes.io/name":"todo-backend"}}}]' \
  --wait --timeout 10m
kubectl -n "${NAMESPACE}" rollout status deployment/todo-backend --timeout 3m >/dev/null
log "helm test ${RELEASE} (a real MCP call to each server from inside the cluster)"
# With Helm 4: Helm 3 deletes a test pod that passed (the chart's hook-succeeded policy)
# before --logs reads it (helm/helm#31579), so the pods' `ok:` lines never showed, only an
# error. A test that fails stops the demo.
helm4 test "${RELEASE}" --namespace "${NAMESPACE}" --logs | grep -E '^(NAME|Phase|ok:)'

mkdir -p "${FORWARDS}"
for entry in "${SERVERS[@]}"; do
  name="${entry%%:*}" port="$(local_port "${entry}")" pidfile="${FORWARDS}/${name}.pid"
  if [ -f "${pidfile}" ] && kill -0 "$(cat "${pidfile}")" 2>/dev/null; then continue; fi
  service_port="$(kubectl -n "${NAMESPACE}" get service "${name}-mcp" -o jsonpath='{.spec.ports[0].port}')"
  setsid kubectl -n "${NAMESPACE}" port-forward "service/${name}-mcp" "${port}:${service_port}" \
    --address 127.0.0.1 >"${FORWARDS}/${name}.log" 2>&1 </dev/null &
  echo $! >"${pidfile}"
done
if ! { [ -f "${FORWARDS}/todo-backend.pid" ] && kill -0 "$(cat "${FORWARDS}/todo-backend.pid")" 2>/dev/null; }; then
  setsid kubectl -n "${NAMESPACE}" port-forward service/todo-backend "${BACKEND_PORT}:8080" \
    --address 127.0.0.1 >"${FORWARDS}/todo-backend.log" 2>&1 </dev/null &
  echo $! >"${FORWARDS}/todo-backend.pid"
fi
forwarded=("${BACKEND}")
for entry in "${SERVERS[@]}"; do forwarded+=("http://127.0.0.1:$(local_port "${entry}")"); done
for url in "${forwarded[@]}"; do
  for _ in $(seq 30); do curl -fsS "${url}/health" >/dev/null 2>&1 && break; sleep 1; done
done

log "calling tools through the cluster"
"${ROOT}/.tools/bin/uv" run --frozen --project "${ROOT}" python "${ROOT}/scripts/demo_call.py" \
  "http://127.0.0.1:$(local_port todo:todo)/mcp" "http://127.0.0.1:$(local_port memory:memory)/mcp"
log "calling the reference backend, which calls todo's tools"
created="$(curl -fsS -X POST -H 'Content-Type: application/json' \
  -d '{"title": "Try the reference backend"}' "${BACKEND}/api/tasks")"
listed="$(curl -fsS "${BACKEND}/api/tasks?status=open")"
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
echo "todo-backend: POST /api/tasks -> id $(field id <<<"${created}")"
echo "todo-backend: GET  /api/tasks -> $(field total <<<"${listed}") open task(s)"

echo
echo "The fleet runs in namespace ${NAMESPACE} (release ${RELEASE}); port-forwards stay up until 'make cluster-down'."
echo "The reference backend: ${BACKEND}/api/tasks (in the cluster http://todo-backend.${NAMESPACE}.svc.cluster.local:8080)"
pairs=()
for entry in "${SERVERS[@]}"; do
  pairs+=("${entry%%:*}=http://127.0.0.1:$(local_port "${entry}")/mcp")
done
echo "Ready-to-paste client configurations:"
python3 "${ROOT}/scripts/client_configs.py" --format all "${pairs[@]}"
total=$(( $(date +%s) - DEMO_STARTED ))
log "done: this script took $(elapsed "${began}"), make demo $((total / 60))m$(printf '%02d' $((total % 60)))s in all"
