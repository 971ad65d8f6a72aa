# shellcheck shell=bash
# Helpers every script sources, so they all log and report long steps alike:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
#   log MSG...                 one line on stderr, prefixed with the script's name
#   die MSG...                 log "error: MSG" and exit 1
#   long WHAT ABOUT CMD...     run a step that can take more than ~30 s: say what it is and about
#                              how long it takes, a heartbeat every HEARTBEAT_SECONDS, the time it
#                              took at the end; its output goes to .run/logs/<script>.log, whose
#                              last lines are shown if it fails
#   elapsed SINCE              "1m05s" since SINCE (a value of $SECONDS)
#   apt_install PKG...         install Debian packages (no recommends), refreshing the package
#                              lists once if the install fails on stale ones; wrap it in `long`
#   image_prefix               what every image we build is named under, localhost/mcp-servers
#                              (scripts/server_registry.py, where it is declared, says why)

LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_SCRIPT="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"
HEARTBEAT_SECONDS="${HEARTBEAT_SECONDS:-30}"

log() { echo "${LIB_SCRIPT}: $*" >&2; }
die() { log "error: $*"; exit 1; }
image_prefix() { python3 "${LIB_ROOT}/scripts/server_registry.py" image-prefix; }

elapsed() {
  local seconds=$((SECONDS - $1))
  if ((seconds >= 60)); then
    printf '%dm%02ds' $((seconds / 60)) $((seconds % 60))
  else
    printf '%ds' "${seconds}"
  fi
}

long() {
  local what="$1" about="$2"; shift 2
  local logfile="${LIB_ROOT}/.run/logs/${LIB_SCRIPT}.log" started=$SECONDS pid status waited
  mkdir -p "$(dirname "${logfile}")"
  log "${what} (usually ${about}; output in ${logfile#"${LIB_ROOT}/"})"
  printf '\n==> %s: %s\n' "$(date -u +%FT%TZ)" "${what}" >>"${logfile}"
  "$@" >>"${logfile}" 2>&1 &
  pid=$!
  while true; do
    waited=0
    while ((waited < HEARTBEAT_SECONDS)) && kill -0 "${pid}" 2>/dev/null; do
      sleep 1
      waited=$((waited + 1))
    done
    kill -0 "${pid}" 2>/dev/null || break
    log "  still ${what}: $(elapsed "${started}") so far"
  done
  if wait "${pid}"; then status=0; else status=$?; fi
  if ((status != 0)); then
    log "${what} failed after $(elapsed "${started}") (exit ${status}); last lines of ${logfile}:"
    tail -n 30 "${logfile}" >&2
    return "${status}"
  fi
  log "  ${what}: done in $(elapsed "${started}")"
}

apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; }
}
