#!/usr/bin/env bash
# `make ct-install`: chart-testing's real `ct install` on the cluster from `make cluster-up`,
# once per charts/mcp-servers/ci/*-values.yaml (values/ files as users install them, see
# scripts/ci_values.py), after giving those releases what they expect: the server images in the
# cluster, the in-cluster PostgreSQL, the External Secrets Operator with the ClusterSecretStore
# platform-secrets that syncs their database URLs, and the ServiceMonitor and PrometheusRule
# CRDs that values/postgres.yaml's objects need (only the CRDs: ct checks that they install).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
export PATH="${ROOT}/.tools/bin:${PATH}"
export CT_CONFIG_DIR="${CT_CONFIG_DIR:-${ROOT}/.tools/ct}"
export KUBECONFIG="${ROOT}/.run/cluster/kubeconfig"
NAMESPACE=mcp-ci

[ -f "${KUBECONFIG}" ] || die "no cluster; run 'make cluster-up'"
bash "${ROOT}/scripts/cluster.sh" postgresql
bash "${ROOT}/scripts/cluster.sh" external-secrets
kubectl apply --server-side --force-conflicts --field-manager mcp-servers-cluster \
  -f "${ROOT}/cluster/manifests/prometheus-operator-crds.yaml" >/dev/null
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
cd "${ROOT}"
exec ct install --config ct.yaml --all "$@"
