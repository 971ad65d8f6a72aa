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
#   host_arch                  this machine's architecture as Debian and OCI name it (amd64, arm64)
#   check_arches ARCH...       die unless each is one the images are built for (ARCHES)
#   arch_tag IMAGE ARCH        the local tag of IMAGE built for ARCH: IMAGE itself for the host's
#                              architecture, IMAGE-ARCH for another (an engine keeps one image per
#                              tag, and the cluster runs the host's)
#   require_emulation ARCH     make binaries of ARCH run here (Debian's qemu-user-static through
#                              binfmt_misc), or die naming what is missing

LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_SCRIPT="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"
HEARTBEAT_SECONDS="${HEARTBEAT_SECONDS:-30}"

log() { echo "${LIB_SCRIPT}: $*" >&2; }
die() { log "error: $*"; exit 1; }
image_prefix() { python3 "${LIB_ROOT}/scripts/server_registry.py" image-prefix; }

# The architectures an image is built for, by their Debian/OCI names; each has its wheel platform
# tag (uname -m) and its qemu-user binary.
KNOWN_ARCHES="amd64 arm64"
host_arch() { dpkg --print-architecture 2>/dev/null || { case "$(uname -m)" in aarch64) echo arm64 ;; *) echo amd64 ;; esac; }; }
machine_of() { case "$1" in amd64) echo x86_64 ;; arm64) echo aarch64 ;; esac; }
check_arches() {
  local arch
  (($#)) || die "ARCHES is empty; give one or more of: ${KNOWN_ARCHES}"
  for arch in "$@"; do
    [[ " ${KNOWN_ARCHES} " == *" ${arch} "* ]] || die "unknown architecture '${arch}' in ARCHES (known: ${KNOWN_ARCHES})"
  done
}
arch_tag() { if [ "$2" = "$(host_arch)" ]; then echo "$1"; else echo "$1-$2"; fi; }

require_emulation() {
  local arch="$1" machine handler
  [ "${arch}" = "$(host_arch)" ] && return
  machine="$(machine_of "${arch}")"
  handler="/proc/sys/fs/binfmt_misc/qemu-${machine}"
  if ! grep -qx enabled "${handler}" 2>/dev/null; then
    [[ $(id -u) -eq 0 ]] \
      || die "building for ${arch} needs ${machine} emulation: as root, apt-get install qemu-user-static binfmt-support, then update-binfmts --enable qemu-${machine}"
    command -v update-binfmts >/dev/null && [ -e "/usr/libexec/qemu-binfmt/${machine}-binfmt-P" ] \
      || long "installing Debian's qemu-user-static (emulates ${arch})" "under a minute" \
        apt_install qemu-user-static binfmt-support
    # A container or a new machine may not have the filesystem the kernel reads handlers from.
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || die "cannot mount binfmt_misc at /proc/sys/fs/binfmt_misc, which ${arch} emulation needs"
    update-binfmts --enable "qemu-${machine}" >/dev/null 2>&1 || true
    grep -qx enabled "${handler}" 2>/dev/null \
      || die "${handler} is not enabled after update-binfmts --enable qemu-${machine}: ${arch} binaries cannot run here"
  fi
  # F (fix binary): the kernel holds the interpreter open, so it works inside containers too.
  grep -q '^flags:.*F' "${handler}" \
    || die "${handler} lacks the F flag: ${arch} binaries would not run inside containers"
}

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
