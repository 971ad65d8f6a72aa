#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ (git-ignored). Idempotent: a tool whose
# stamp matches its pinned version is left alone, so a second run takes seconds.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin" "$tools/stamps"

HELM_VERSION=v3.22.0
CT_VERSION=v3.14.0
KIND_VERSION=v0.33.0
KUBECONFORM_VERSION=v0.8.0
HELM_DOCS_VERSION=v1.14.2
KUBERNETES_VALIDATE_VERSION=1.37.0
UV_VERSION=0.13.9

export GOBIN="$bin"
export GOFLAGS="-trimpath"
export CGO_ENABLED=0

log() { printf '==> %s\n' "$*" >&2; }

fresh() {  # fresh NAME VERSION: true when NAME is installed at VERSION
  [[ -f "$tools/stamps/$1" && "$(cat "$tools/stamps/$1")" == "$2" ]]
}
stamp() { printf '%s' "$2" >"$tools/stamps/$1"; }

command -v go >/dev/null || { echo "install-tools: Go is required (https://go.dev/dl/)" >&2; exit 1; }

if ! fresh helm "$HELM_VERSION"; then
  log "helm $HELM_VERSION"
  go mod download "helm.sh/helm/v3@$HELM_VERSION"
  helm_src="$(go env GOMODCACHE)/helm.sh/helm/v3@$HELM_VERSION"
  # helm's Makefile stamps its version and the Kubernetes version it was built against;
  # without these `helm version` is empty and .Capabilities.KubeVersion falls back to 1.20.
  client_go=$(cd "$helm_src" && go list -mod=mod -f '{{.Version}}' -m k8s.io/client-go)
  k8s_minor=$(echo "$client_go" | cut -d. -f2)
  pkg=helm.sh/helm/v3
  ldflags="-w -s -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
  ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
  ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$k8s_minor"
  go install -ldflags "$ldflags" "$pkg/cmd/helm@$HELM_VERSION"
  stamp helm "$HELM_VERSION"
fi

if ! fresh ct "$CT_VERSION"; then
  log "ct $CT_VERSION"
  ct_pkg=github.com/helm/chart-testing/v3
  # `go install ct@version` asks the proxy for the module's version list, which it refuses;
  # building from the downloaded module avoids that look-up.
  go mod download "$ct_pkg@$CT_VERSION"
  ct_src="$(go env GOMODCACHE)/github.com/helm/chart-testing/v3@$CT_VERSION"
  (cd "$ct_src" && go build -ldflags "-X $ct_pkg/ct/cmd.Version=$CT_VERSION" -o "$bin/ct" ./ct)
  # ct reads its chart schema and yamllint rules from a config dir; CT_CONFIG_DIR points here.
  mkdir -p "$tools/ct"
  cp -f "$(go env GOMODCACHE)/github.com/helm/chart-testing/v3@$CT_VERSION/etc/"{chart_schema.yaml,lintconf.yaml} "$tools/ct/"
  chmod u+w "$tools/ct/"*
  stamp ct "$CT_VERSION"
fi

if ! fresh kind "$KIND_VERSION"; then
  log "kind $KIND_VERSION"
  go install "sigs.k8s.io/kind@$KIND_VERSION"
  stamp kind "$KIND_VERSION"
fi

if ! fresh kubeconform "$KUBECONFORM_VERSION"; then
  log "kubeconform $KUBECONFORM_VERSION"
  go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  stamp kubeconform "$KUBECONFORM_VERSION"
fi

if ! fresh helm-docs "$HELM_DOCS_VERSION"; then
  log "helm-docs $HELM_DOCS_VERSION"
  go install "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
  stamp helm-docs "$HELM_DOCS_VERSION"
fi

if ! fresh uv "$UV_VERSION"; then
  log "uv $UV_VERSION"
  python3 -m venv "$tools/uv-venv"
  "$tools/uv-venv/bin/pip" install --quiet "uv==$UV_VERSION"
  ln -sf "$tools/uv-venv/bin/uv" "$bin/uv"
  stamp uv "$UV_VERSION"
fi

# yamllint and yamale for ct, and the offline Kubernetes schemas for kubeconform, live in
# one small venv so they never clash with the project's own environment.
py_tools="yamllint==1.38.0 yamale==6.1.0 kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
if ! fresh py-tools "$py_tools"; then
  log "$py_tools"
  python3 -m venv "$tools/py-venv"
  "$tools/py-venv/bin/pip" install --quiet $py_tools
  ln -sf "$tools/py-venv/bin/yamllint" "$bin/yamllint"
  ln -sf "$tools/py-venv/bin/yamale" "$bin/yamale"
  rm -rf "$tools/schemas"
  "$tools/py-venv/bin/python" "$root/scripts/kubeconform_schemas.py" "$tools/schemas"
  stamp py-tools "$py_tools"
fi

# checkov (best-practice scanner for the chart) has a large dependency tree: its own venv.
CHECKOV_VERSION=3.3.30
if ! fresh checkov "$CHECKOV_VERSION"; then
  log "checkov $CHECKOV_VERSION"
  python3 -m venv "$tools/checkov-venv"
  "$tools/checkov-venv/bin/pip" install --quiet "checkov==$CHECKOV_VERSION"
  ln -sf "$tools/checkov-venv/bin/checkov" "$bin/checkov"
  stamp checkov "$CHECKOV_VERSION"
fi

log "tools ready in $bin"
"$bin/helm" version --short
