#!/usr/bin/env bash
# Install (or uninstall) one server of values/ into the current kube context:
#   install-server.sh [--uninstall] SERVER [NAMESPACE]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
action=install
if [[ "${1:-}" == "--uninstall" ]]; then action=uninstall; shift; fi
server=${1:-}
namespace=${2:-mcp}

shopt -s nullglob
valid=""
for file in "$root"/values/*.yaml; do valid+="$(basename "$file" .yaml) "; done
if [[ -z "$server" ]]; then
  log "error: SERVER is required, e.g. make $action SERVER=todo; valid: $valid"
  exit 2
fi
if [[ ! -f "$root/values/$server.yaml" ]]; then
  log "error: unknown SERVER '$server': no values/$server.yaml; valid: $valid"
  exit 2
fi

release="mcp-$server"
if [[ "$action" == uninstall ]]; then
  exec helm uninstall "$release" --namespace "$namespace" --wait
fi
exec helm upgrade --install "$release" "$root/charts/mcp-servers" \
  --namespace "$namespace" --create-namespace \
  -f "$root/values/$server.yaml" --wait --timeout 5m
