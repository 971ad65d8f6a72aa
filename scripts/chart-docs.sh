#!/usr/bin/env bash
# Regenerates charts/mcp-servers/README.md from README.md.gotmpl and the `# --` comments in
# values.yaml (helm-docs), and in values.schema.json the Kubernetes definitions (from the
# Kubernetes OpenAPI schemas kubernetes-validate ships) and the descriptions of the keys (the same
# `# --` comments; see scripts/chart_schema_sync.py), then checks that values.yaml,
# values.schema.json and the README parameter table describe the same keys in the same words.
#   scripts/chart-docs.sh [CHART_DIR]           regenerate the README, definitions and descriptions, then check
#   scripts/chart-docs.sh --check [CHART_DIR]   change nothing; fail when anything is stale
# CHART_DIR defaults to charts/mcp-servers.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
export PATH="$root/.tools/bin:$PATH"

mode="write"
if [[ "${1:-}" == --check ]]; then
  mode=check
  shift
fi
[[ $# -le 1 && "${1:-}" != -* ]] || { echo "usage: scripts/chart-docs.sh [--check] [CHART_DIR]" >&2; exit 2; }
chart=$(cd "${1:-$root/charts/mcp-servers}" && pwd)
command -v helm-docs >/dev/null || { log "helm-docs is not installed; run 'make tools'"; exit 1; }

helm_docs() {
  helm-docs --chart-search-root "$(dirname "$chart")" --chart-to-generate "$chart" \
    --sort-values-order file --skip-version-footer --log-level warning "$@"
}

if [[ "$mode" == check ]]; then
  if ! stale=$(diff -u "$chart/README.md" <(helm_docs --dry-run) 2>&1); then
    echo "$stale" >&2
    log "$chart/README.md is stale (values.yaml or README.md.gotmpl changed); run 'make chart-docs' and commit the result"
    exit 1
  fi
  write=()
else
  helm_docs
  write=(--write)
fi
"$root/.tools/bin/uv" run --frozen --project "$root" python "$root/scripts/chart_schema_sync.py" "${write[@]}" "$chart"
