#!/usr/bin/env bash
# CI as a new machine of this kind runs it: `.ci/run` (CI=true) on a clean clone of HEAD with an
# empty home (no Go build or module cache, no uv, npm, wheelhouse or tool cache) and a Docker
# engine with no images and no build cache. Kept, as such a machine comes with them: Debian's
# packages, the toolchains (Go, pyenv's Pythons, Node) and the registry settings in the home
# (~/.config/go/env, ~/.npmrc, ~/.gitconfig). Needs root and no Docker engine running (its images
# would make the run warm). Prints how long the run took; removes the empty home and the engine's
# data afterwards (KEEP=1 keeps them), leaving the log.
#   scripts/cold-ci.sh [DIR]    (default /tmp/mcp-cold-ci; the log is DIR/ci.log)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
cold=${1:-/tmp/mcp-cold-ci}

[[ $(id -u) -eq 0 ]] || die "run it as root: .ci/run installs packages and starts a Kubernetes node"
! docker info >/dev/null 2>&1 || die "a Docker engine answers; stop it first (its images and build cache would make the run warm)"
rm -rf "${cold:?}"
mkdir -p "$cold/home/.config"
for setting in .config/go .npmrc .gitconfig; do
  if [[ -e $HOME/$setting ]]; then cp -a "$HOME/$setting" "$cold/home/$setting"; fi
done
git clone -q "$root" "$cold/clone"

# .ci/run leaves the engine it started running, as it does on any machine: stop this one, and
# remove what the run made unless asked to keep it.
# shellcheck disable=SC2329 # run by the EXIT trap below
finish() {
  local pidfile="$cold/clone/.run/docker/dockerd.pid"
  if [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null; then
    while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 1; done
  fi
  if [[ ${KEEP:-} != 1 ]]; then rm -rf "${cold:?}/home" "${cold:?}/docker" "${cold:?}/clone"; fi
}
trap 'finish' EXIT

log "cold CI of $(git -C "$root" rev-parse --short HEAD) (log $cold/ci.log)"
began=$SECONDS
status=0
(cd "$cold/clone" && HOME="$cold/home" DOCKER_DATA_ROOT="$cold/docker" CI=true bash .ci/run) \
  >"$cold/ci.log" 2>&1 || status=$?
log "cold CI ended with exit code $status after $((SECONDS - began)) s"
exit "$status"
