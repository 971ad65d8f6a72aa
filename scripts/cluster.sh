#!/usr/bin/env bash
# One entry point for a test cluster, whichever way it can be built here:
#   cluster.sh up         kind when Docker can get kind's node image, else the local node
#   cluster.sh down       remove it and everything it created
#   cluster.sh status     which cluster is up
#   cluster.sh health     the local node's health report (local-node.sh health), for a failed run
#   cluster.sh load IMG.. make Docker engine images available to the cluster's nodes
#   cluster.sh env        print `export KUBECONFIG=...` for the running cluster
#   cluster.sh ingress    add Traefik, the Ingress + Gateway API controller (idempotent; not part
#                         of `up`); prints the base URL a host reaches it at
#   cluster.sh oidc       add Ory Hydra, an OpenID provider, in namespace oidc (idempotent; not
#                         part of `up`); prints its issuer and the public and admin URLs a host
#                         reaches it at
#   cluster.sh metrics-server  add metrics-server, the resource metrics API that
#                         HorizontalPodAutoscalers and `kubectl top` read (idempotent; not part
#                         of `up`)
#   cluster.sh external-secrets  add the External Secrets Operator and the ClusterSecretStore
#                         platform-secrets that values/ names, seeded with their database URLs
#                         (idempotent; part of prepare)
#   cluster.sh prometheus add Prometheus (namespace monitoring, NodePort 30090) and the
#                         ServiceMonitor and PrometheusRule CRDs (idempotent; not part of `up`);
#                         prints the URL a host reaches its API at
#   cluster.sh tracing    add Jaeger's all-in-one, a trace backend taking OTLP gRPC (namespace
#                         tracing, query API at NodePort 30686; idempotent; not part of `up`);
#                         prints the OTLP endpoint pods send to and the query URL a host reads
#   cluster.sh prepare IMG..  up, load, postgresql, external-secrets, ingress, oidc and metrics-server: all that tests/cluster's
#                         session fixtures set up, which they then find done
# CLUSTER_PROVIDER=kind|local forces one. The kubeconfig is always .run/cluster/kubeconfig.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
export PATH="${ROOT}/.tools/bin:${PATH}"
STATE="${ROOT}/.run/cluster-provider"
KUBECONFIG_PATH="${ROOT}/.run/cluster/kubeconfig"
KIND_CLUSTER="${KIND_CLUSTER:-mcp-servers}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.34.0}"

case "${CLUSTER_PROVIDER:=auto}" in
  kind | local | auto) ;;
  *) log "error: CLUSTER_PROVIDER must be kind, local or auto, not '${CLUSTER_PROVIDER}'"; exit 2 ;;
esac

choose_provider() {
  if [ "${CLUSTER_PROVIDER}" != auto ]; then
    echo "${CLUSTER_PROVIDER}"
    return
  fi
  bash "${ROOT}/scripts/docker-engine.sh" >&2
  if docker image inspect "${KIND_NODE_IMAGE}" >/dev/null 2>&1; then
    echo kind
    return
  fi
  # A registry that cannot be reached refuses at once; a slow one gets two minutes.
  log "pulling kind's node image ${KIND_NODE_IMAGE} (at most 2 min)"
  if pull_image "${KIND_NODE_IMAGE}" 120 >/dev/null; then
    echo kind
  else
    log "kind's node image cannot be pulled here: the cluster will be a local node built from the Go module proxy"
    echo local
  fi
}

provider() { cat "${STATE}" 2>/dev/null || true; }

up() {
  local chosen
  chosen="$(provider)"
  [ -n "${chosen}" ] || chosen="$(choose_provider)"
  mkdir -p "$(dirname "${STATE}")"
  echo "${chosen}" >"${STATE}"
  case "${chosen}" in
    kind)
      KIND_NODE_IMAGE="${KIND_NODE_IMAGE}" KIND_CLUSTER="${KIND_CLUSTER}" bash "${ROOT}/scripts/kind.sh" up
      mkdir -p "$(dirname "${KUBECONFIG_PATH}")"
      kind get kubeconfig --name "${KIND_CLUSTER}" >"${KUBECONFIG_PATH}"
      ;;
    local)
      # Only the local node needs these: where kind runs, nothing is compiled.
      bash "${ROOT}/scripts/install-tools.sh" cluster
      bash "${ROOT}/scripts/local-node.sh" up
      ;;
  esac
  echo "export KUBECONFIG=${KUBECONFIG_PATH}"
}

down() {
  # make demo's port-forwards
  local pidfile
  for pidfile in "${ROOT}"/.run/port-forwards/*.pid; do
    [ -f "${pidfile}" ] && kill "$(cat "${pidfile}")" 2>/dev/null || true
  done
  rm -rf "${ROOT}/.run/port-forwards"
  case "$(provider)" in
    kind) KIND_CLUSTER="${KIND_CLUSTER}" bash "${ROOT}/scripts/kind.sh" down ;;
    local) bash "${ROOT}/scripts/local-node.sh" down ;;
    *) bash "${ROOT}/scripts/local-node.sh" down ;;
  esac
  rm -f "${STATE}" "${KUBECONFIG_PATH}"
}

load() {
  local image
  case "$(provider)" in
    kind) for image in "$@"; do kind load docker-image --name "${KIND_CLUSTER}" "${image}"; done ;;
    local) bash "${ROOT}/scripts/cluster-images.sh" load "$@" ;;
    *) die "no cluster; run 'make cluster-up'" ;;
  esac
}

# Traefik in namespace `ingress` (cluster/manifests/traefik.yaml: IngressClass and GatewayClass
# `traefik`, Gateway `mcp`, NodePort 30080) over the Gateway API's standard CRDs.
ingress() {
  local chosen node_ip digest image=mcp-servers.local/traefik:v3.7.13
  chosen="$(provider)"
  [ -n "${chosen}" ] || die "no cluster; run 'make cluster-up'"
  bash "${ROOT}/scripts/install-tools.sh" traefik
  case "${chosen}" in
    local) bash "${ROOT}/scripts/cluster-images.sh" traefik ;;
    kind) bash "${ROOT}/scripts/cluster-images.sh" build-traefik && load "${image}" ;;
  esac
  export KUBECONFIG="${KUBECONFIG_PATH}"
  # Server-side: the HTTPRoute CRD is too large for client-side apply's annotation.
  kubectl apply --server-side --force-conflicts --field-manager mcp-servers-cluster \
    -f "${ROOT}/cluster/manifests/gateway-api-crds.yaml" >/dev/null
  kubectl wait --for condition=Established --timeout 60s \
    crd/gatewayclasses.gateway.networking.k8s.io crd/gateways.gateway.networking.k8s.io \
    crd/httproutes.gateway.networking.k8s.io >/dev/null
  # A host reaches NodePorts at the node's address: the bridge's on the local node, the node
  # container's on kind.
  node_ip="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
  digest="$(sha256sum "${ROOT}/.tools/bin/traefik" | cut -d' ' -f1)"
  sed -e "s|@TRAEFIK_IMAGE@|${image}|" -e "s|@NODE_IP@|${node_ip}|g" -e "s|@BINARY_SHA256@|${digest}|" \
    "${ROOT}/cluster/manifests/traefik.yaml" | kubectl apply -f - >/dev/null
  kubectl -n ingress rollout status deployment/traefik --timeout 180s >&2
  kubectl -n ingress wait --for condition=Programmed --timeout 60s gateway/mcp >/dev/null
  log "Traefik is up: IngressClass traefik, Gateway ingress/mcp"
  echo "http://${node_ip}:30080"
}

# Ory Hydra in namespace `oidc` (cluster/manifests/hydra.yaml): issuer
# http://hydra.oidc.svc.cluster.local:4444, NodePorts 30444 (public) and 30445 (admin). Its
# database is in memory: applying an unchanged manifest keeps the pod, and with it the clients
# and keys; a changed binary or manifest replaces it, and them.
oidc() {
  local chosen node_ip binary_digest manifest_digest image=mcp-servers.local/hydra:v2.3.0
  local manifest="${ROOT}/cluster/manifests/hydra.yaml"
  chosen="$(provider)"
  [ -n "${chosen}" ] || die "no cluster; run 'make cluster-up'"
  bash "${ROOT}/scripts/install-tools.sh" hydra
  case "${chosen}" in
    local) bash "${ROOT}/scripts/cluster-images.sh" hydra ;;
    kind) bash "${ROOT}/scripts/cluster-images.sh" build-hydra && load "${image}" ;;
  esac
  export KUBECONFIG="${KUBECONFIG_PATH}"
  binary_digest="$(sha256sum "${ROOT}/.tools/bin/hydra" | cut -d' ' -f1)"
  manifest_digest="$(sha256sum "${manifest}" | cut -d' ' -f1)"
  sed -e "s|@HYDRA_IMAGE@|${image}|" -e "s|@BINARY_SHA256@|${binary_digest}|" \
    -e "s|@MANIFEST_SHA256@|${manifest_digest}|" "${manifest}" | kubectl apply -f - >/dev/null
  kubectl -n oidc rollout status deployment/hydra --timeout 180s >&2
  node_ip="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
  # Hydra makes its first signing key (RSA: seconds of CPU) when the JWKS is first asked for:
  # now, rather than inside a test's first token request. Retried: the NodePort's rules may
  # lag the pod's readiness by a moment.
  curl -fs --retry 30 --retry-all-errors --retry-delay 1 --max-time 60 \
    "http://${node_ip}:30444/.well-known/jwks.json" >/dev/null \
    || die "Hydra's JWKS does not answer at http://${node_ip}:30444 (kubectl -n oidc logs deploy/hydra)"
  log "Hydra is up: issuer http://hydra.oidc.svc.cluster.local:4444 (in-memory: a new pod forgets every client and key)"
  echo "issuer=http://hydra.oidc.svc.cluster.local:4444"
  echo "public=http://${node_ip}:30444"
  echo "admin=http://${node_ip}:30445"
}

# metrics-server v0.8.0 in kube-system (cluster/manifests/metrics-server.yaml), serving
# metrics.k8s.io/v1beta1 through the API server's aggregation layer. The local node's kubelet
# serves a certificate of the cluster CA, which metrics-server checks; kind's kubelets sign their
# own, which it has to accept unchecked there.
metrics_server() {
  local chosen kubelet_tls digest image=mcp-servers.local/metrics-server:v0.8.0
  chosen="$(provider)"
  [ -n "${chosen}" ] || die "no cluster; run 'make cluster-up'"
  bash "${ROOT}/scripts/install-tools.sh" metrics-server
  case "${chosen}" in
    local)
      bash "${ROOT}/scripts/cluster-images.sh" metrics-server
      kubelet_tls=--kubelet-certificate-authority=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt
      ;;
    kind)
      bash "${ROOT}/scripts/cluster-images.sh" build-metrics-server && load "${image}"
      kubelet_tls=--kubelet-insecure-tls
      ;;
  esac
  export KUBECONFIG="${KUBECONFIG_PATH}"
  digest="$(sha256sum "${ROOT}/.tools/bin/metrics-server" | cut -d' ' -f1)"
  sed -e "s|@METRICS_SERVER_IMAGE@|${image}|" -e "s|@KUBELET_TLS@|${kubelet_tls}|" \
    -e "s|@BINARY_SHA256@|${digest}|" "${ROOT}/cluster/manifests/metrics-server.yaml" | kubectl apply -f - >/dev/null
  kubectl -n kube-system rollout status deployment/metrics-server --timeout 180s >&2
  kubectl wait --for condition=Available --timeout 120s apiservice/v1beta1.metrics.k8s.io >/dev/null \
    || die "metrics.k8s.io is not available (kubectl -n kube-system logs deploy/metrics-server)"
  log "metrics-server is up: metrics.k8s.io/v1beta1 (kubectl top pods), a 10 s resolution"
}

# Prometheus v3.16 in namespace `monitoring` (cluster/manifests/prometheus.yaml), API at
# http://NODE_IP:30090, over the Prometheus Operator's ServiceMonitor and PrometheusRule CRDs; the
# scrape jobs and rules of each namespace's ServiceMonitors and PrometheusRules are written into
# its ConfigMaps by harness.prometheus_operator (the operator cannot be built here). Applying an
# unchanged manifest keeps the pod and its data; a changed binary or manifest replaces them.
prometheus() {
  local chosen node_ip binary_digest manifest_digest image=mcp-servers.local/prometheus:v3.16.0
  local manifest="${ROOT}/cluster/manifests/prometheus.yaml" binary="${ROOT}/.tools/bin/prometheus"
  chosen="$(provider)"
  [ -n "${chosen}" ] || die "no cluster; run 'make cluster-up'"
  bash "${ROOT}/scripts/install-tools.sh" prometheus
  bash "${ROOT}/scripts/cluster-images.sh" binary-image "${image}" "${binary}" "${ROOT}/cluster/prometheus/Dockerfile"
  docker run --rm "${image}" --version >/dev/null \
    || die "${image} does not run: .tools/bin/prometheus must be a static binary (FROM scratch)"
  binary_digest="$(sha256sum "${binary}" | cut -d' ' -f1)"
  load "${image}"
  export KUBECONFIG="${KUBECONFIG_PATH}"
  kubectl apply --server-side --force-conflicts --field-manager mcp-servers-cluster \
    -f "${ROOT}/cluster/manifests/prometheus-operator-crds.yaml" >/dev/null
  kubectl wait --for condition=Established --timeout 60s \
    crd/servicemonitors.monitoring.coreos.com crd/prometheusrules.monitoring.coreos.com >/dev/null
  manifest_digest="$(sha256sum "${manifest}" | cut -d' ' -f1)"
  sed -e "s|@PROMETHEUS_IMAGE@|${image}|" -e "s|@BINARY_SHA256@|${binary_digest}|" \
    -e "s|@MANIFEST_SHA256@|${manifest_digest}|" "${manifest}" | kubectl apply -f - >/dev/null
  kubectl -n monitoring rollout status deployment/prometheus --timeout 180s >&2
  node_ip="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
  # The NodePort's rules may lag the pod's readiness by a moment.
  curl -fs --retry 30 --retry-all-errors --retry-delay 1 --max-time 60 \
    "http://${node_ip}:30090/-/ready" >/dev/null \
    || die "Prometheus does not answer at http://${node_ip}:30090 (kubectl -n monitoring logs deploy/prometheus)"
  log "Prometheus is up: namespace monitoring, scraping cAdvisor and the jobs of ConfigMap prometheus-scrape"
  echo "http://${node_ip}:30090"
}

# Jaeger all-in-one v1.76.0 in namespace `tracing` (cluster/manifests/jaeger.yaml): OTLP gRPC at
# http://jaeger.tracing.svc.cluster.local:4317 (a server's tracing.endpoint), the query API at
# http://NODE_IP:30686, traces in memory. The image is make tools' static binary on scratch,
# labelled with its digest; an unchanged binary and manifest keep the pod and its traces.
tracing() {
  local node_ip binary_digest manifest_digest image=mcp-servers.local/jaeger:v1.76.0
  local manifest="${ROOT}/cluster/manifests/jaeger.yaml" binary="${ROOT}/.tools/bin/jaeger-all-in-one"
  [ -n "$(provider)" ] || die "no cluster; run 'make cluster-up'"
  bash "${ROOT}/scripts/install-tools.sh" jaeger
  bash "${ROOT}/scripts/cluster-images.sh" binary-image "${image}" "${binary}" "${ROOT}/cluster/images/jaeger/Dockerfile"
  binary_digest="$(sha256sum "${binary}" | cut -d' ' -f1)"
  load "${image}"
  export KUBECONFIG="${KUBECONFIG_PATH}"
  manifest_digest="$(sha256sum "${manifest}" | cut -d' ' -f1)"
  sed -e "s|@JAEGER_IMAGE@|${image}|" -e "s|@BINARY_SHA256@|${binary_digest}|" \
    -e "s|@MANIFEST_SHA256@|${manifest_digest}|" "${manifest}" | kubectl apply -f - >/dev/null
  kubectl -n tracing rollout status deployment/jaeger --timeout 180s >&2
  node_ip="$(kubectl get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}')"
  # The NodePort's rules may lag the pod's readiness by a moment.
  curl -fs --retry 30 --retry-all-errors --retry-delay 1 --max-time 60 \
    "http://${node_ip}:30686/api/services" >/dev/null \
    || die "Jaeger's query API does not answer at http://${node_ip}:30686 (kubectl -n tracing logs deploy/jaeger)"
  log "Jaeger is up: OTLP gRPC at http://jaeger.tracing.svc.cluster.local:4317, traces in memory"
  echo "otlp=http://jaeger.tracing.svc.cluster.local:4317"
  echo "query=http://${node_ip}:30686"
}

# The External Secrets Operator in namespace external-secrets, its CRDs from the module it is
# built from, and the ClusterSecretStore platform-secrets (cluster/manifests/external-secrets.yaml:
# ESO's Kubernetes provider over namespace platform-secrets). The remote keys values/ name are
# seeded there with the URLs of cluster/manifests/database-secrets.yaml (the in-cluster
# PostgreSQL's); applying again resets them.
external_secrets() {
  local chosen module version digest crd key property source url image
  local binary="${ROOT}/.tools/bin/external-secrets" crds=()
  chosen="$(provider)"
  [ -n "${chosen}" ] || die "no cluster; run 'make cluster-up'"
  bash "${ROOT}/scripts/install-tools.sh" external-secrets
  # The binary may come from the machine cache, the CRDs need the module's source.
  go -C "${ROOT}/cluster/external-secrets" mod download github.com/external-secrets/external-secrets
  module="$(go -C "${ROOT}/cluster/external-secrets" list -m -f '{{.Dir}}' github.com/external-secrets/external-secrets)"
  version="$(go -C "${ROOT}/cluster/external-secrets" list -m -f '{{.Version}}' github.com/external-secrets/external-secrets)"
  image="mcp-servers.local/external-secrets:${version}"
  bash "${ROOT}/scripts/cluster-images.sh" binary-image "${image}" "${binary}" "${ROOT}/cluster/external-secrets/Dockerfile"
  digest="$(sha256sum "${binary}" | cut -d' ' -f1)"
  load "${image}"
  export KUBECONFIG="${KUBECONFIG_PATH}"
  for crd in "${module}"/config/crds/bases/*.yaml; do
    [[ "${crd}" == */kustomization.yaml ]] || crds+=(-f "${crd}")
  done
  # Server-side: the store CRDs are too large for client-side apply's annotation.
  kubectl apply --server-side --force-conflicts --field-manager mcp-servers-cluster "${crds[@]}" >/dev/null
  kubectl wait --for condition=Established --timeout 60s crd/externalsecrets.external-secrets.io \
    crd/clustersecretstores.external-secrets.io >/dev/null
  sed -e "s|@EXTERNAL_SECRETS_IMAGE@|${image}|" -e "s|@BINARY_SHA256@|${digest}|" \
    "${ROOT}/cluster/manifests/external-secrets.yaml" | kubectl apply -f - >/dev/null
  while read -r key property source; do
    url="$(awk -v name="${source}" '$1 == "name:" { secret = $2 } $1 == "DATABASE_URL:" && secret == name { print $2 }' \
      "${ROOT}/cluster/manifests/database-secrets.yaml")"
    [ -n "${url}" ] || die "cluster/manifests/database-secrets.yaml has no Secret ${source} with a DATABASE_URL"
    kubectl -n platform-secrets create secret generic "${key}" --from-literal "${property}=${url}" \
      --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  done <<'KEYS'
mcp-todo database-url mcp-todo-database
mcp-postgres readonly-url mcp-postgres-database
mcp-memory database-url mcp-memory-database
KEYS
  kubectl -n external-secrets rollout status deployment/external-secrets --timeout 180s >&2
  kubectl wait --for condition=Ready --timeout 120s clustersecretstore/platform-secrets >/dev/null \
    || die "ClusterSecretStore platform-secrets is not Ready (kubectl describe clustersecretstore platform-secrets; kubectl -n external-secrets logs deploy/external-secrets)"
  log "External Secrets Operator ${version} is up: ClusterSecretStore platform-secrets reads namespace platform-secrets"
}

# The in-cluster PostgreSQL that ct install and the end-to-end tests use.
postgresql() {
  case "$(provider)" in
    local) bash "${ROOT}/scripts/cluster-images.sh" postgresql ;;
    kind) bash "${ROOT}/scripts/cluster-images.sh" build-postgresql && load mcp-servers.local/postgresql:15 ;;
    *) die "no cluster; run 'make cluster-up'" ;;
  esac
  KUBECONFIG="${KUBECONFIG_PATH}" kubectl apply -f "${ROOT}/cluster/manifests/postgresql.yaml" >/dev/null
  KUBECONFIG="${KUBECONFIG_PATH}" kubectl -n databases rollout status statefulset/postgresql --timeout 180s
}

# `make test` runs this beside the tests outside tests/cluster: bringing a cluster up and
# importing images is mostly waiting, which the other tests' CPU work can overlap.
prepare() {
  local began=$SECONDS
  up >/dev/null
  load "$@"
  postgresql >/dev/null
  external_secrets >/dev/null
  ingress >/dev/null
  oidc >/dev/null
  metrics_server >/dev/null
  log "cluster prepared in $((SECONDS - began)) s: up, $# images, postgresql, external-secrets, ingress, oidc, metrics-server"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    case "$(provider)" in
      kind) kind get clusters | grep -qx "${KIND_CLUSTER}" && echo "kind cluster ${KIND_CLUSTER}" ;;
      local) bash "${ROOT}/scripts/local-node.sh" status ;;
      *) echo "no cluster"; exit 3 ;;
    esac
    ;;
  health)
    case "$(provider)" in
      local) bash "${ROOT}/scripts/local-node.sh" health ;;
      kind) echo "cluster health: only the local node reports its health" ;;
      *) echo "cluster health: no cluster" ;;
    esac
    ;;
  load) shift; load "$@" ;;
  postgresql) postgresql ;;
  env) echo "export KUBECONFIG=${KUBECONFIG_PATH}" ;;
  ingress) ingress ;;
  oidc) oidc ;;
  metrics-server) metrics_server ;;
  prometheus) prometheus ;;
  tracing) tracing ;;
  external-secrets) external_secrets ;;
  prepare) shift; prepare "$@" ;;
  *) echo "usage: cluster.sh up|down|status|health|load IMAGE...|postgresql|env|ingress|oidc|metrics-server|prometheus|tracing|external-secrets|prepare IMAGE..." >&2; exit 2 ;;
esac
