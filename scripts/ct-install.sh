#!/usr/bin/env bash
# `make ct-install`: chart-testing's real `ct install` on the cluster from `make cluster-up`,
# once per charts/mcp-servers/ci/*-values.yaml, after giving those releases what they expect:
# the server images in the cluster, the in-cluster PostgreSQL, and their database Secrets in
# namespace mcp-ci (ct.yaml).
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
kubectl create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "${NAMESPACE}" apply -f "${ROOT}/cluster/manifests/database-secrets.yaml" >/dev/null
cd "${ROOT}"
exec ct install --config ct.yaml --all "$@"
