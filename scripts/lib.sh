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
#   require_emulation ARCH     make binaries of ARCH run here (Debian's qemu-user, at least
#                              QEMU_MIN_MAJOR, through binfmt_misc), or die naming what is missing

LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB_SCRIPT="$(basename "${BASH_SOURCE[1]:-$0}" .sh)"
HEARTBEAT_SECONDS="${HEARTBEAT_SECONDS:-30}"

log() { echo "${LIB_SCRIPT}: $*" >&2; }
die() { log "error: $*"; exit 1; }
image_prefix() { python3 "${LIB_ROOT}/scripts/server_registry.py" image-prefix; }
# pull_image IMAGE SECONDS: docker pull, given at most SECONDS; a refusal is one line of ours
# naming docker's reason, not docker's own "Error response from daemon" in the output.
pull_image() {
  local said reason
  if said="$(timeout "$2" docker pull -q "$1" 2>&1)"; then
    return 0
  fi
  reason="$(tail -n 1 <<<"${said:-no answer within $2 s}")"
  log "cannot pull $1: ${reason#Error response from daemon: }"
  return 1
}

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

# Debian 12's own qemu 7.2 kills arm64 onnxruntime (the memory image) with SIGSEGV on import;
# 10.0 from bookworm-backports runs it. The kernel keeps the interpreter it registered (F flag),
# so only running a foreign binary says which qemu is in use: QEMU_VERSION makes qemu-user print
# its version before it even loads the program, so an ELF header is all the probe needs.
QEMU_MIN_MAJOR=10
elf_magic() {
  case "$1" in
    aarch64) printf '\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00' ;;
    x86_64) printf '\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00' ;;
  esac
}
qemu_major() { sed -n 's/^qemu-[a-z0-9_]* version \([0-9]*\)\..*/\1/p' | head -n 1; }

# The major version of the qemu the kernel runs MACHINE binaries with; empty when none does.
emulator_major() {
  local probe version
  probe="$(mktemp)"
  { elf_magic "$1"; head -c 44 /dev/zero; } >"${probe}"
  chmod +x "${probe}"
  version="$(QEMU_VERSION=1 "${probe}" 2>/dev/null | qemu_major)" || true
  rm -f "${probe}"
  echo "${version}"
}

# qemu-user >= QEMU_MIN_MAJOR from the machine's apt sources, or from bookworm-backports.
install_qemu_user() {
  local candidate
  candidate="$(apt-cache policy qemu-user 2>/dev/null | sed -n 's/^ *Candidate: [0-9]*:*\([0-9]*\)\..*/\1/p')"
  if [[ -n "${candidate}" ]] && ((candidate >= QEMU_MIN_MAJOR)); then
    apt_install qemu-user
    return
  fi
  grep -qs '^VERSION_CODENAME=bookworm$' /etc/os-release \
    || die "qemu-user ${QEMU_MIN_MAJOR} or newer is needed for emulation and apt offers ${candidate:-none}: install it, then run this again"
  printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
    'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
    >/etc/apt/sources.list.d/bookworm-backports.sources
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user
}

require_emulation() {
  local arch="$1" machine handler conf major installed
  [ "${arch}" = "$(host_arch)" ] && return
  machine="$(machine_of "${arch}")"
  handler="/proc/sys/fs/binfmt_misc/qemu-${machine}"
  major="$(emulator_major "${machine}")"
  if ((${major:-0} < QEMU_MIN_MAJOR)); then
    [[ $(id -u) -eq 0 ]] \
      || die "building for ${arch} needs qemu-user ${QEMU_MIN_MAJOR} or newer registered for ${machine} (found: ${major:-none}); run this as root once to install and register it"
    conf="/usr/share/qemu/binfmt.d/qemu-${machine}.conf"
    installed="$("/usr/bin/qemu-${machine}" --version 2>/dev/null | qemu_major)" || true
    if [[ ! -f "${conf}" ]] || ((${installed:-0} < QEMU_MIN_MAJOR)); then
      long "installing Debian's qemu-user ${QEMU_MIN_MAJOR}+ (emulates ${arch})" "about a minute" install_qemu_user
    fi
    # A container or a new machine may not have the filesystem the kernel reads handlers from.
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
      || die "cannot mount binfmt_misc at /proc/sys/fs/binfmt_misc, which ${arch} emulation needs"
    # An older qemu's handler (Debian 12's qemu-user-static) holds the name: replace it.
    [ -e "${handler}" ] && echo -1 >"${handler}"
    cat "${conf}" >/proc/sys/fs/binfmt_misc/register
    major="$(emulator_major "${machine}")"
    ((${major:-0} >= QEMU_MIN_MAJOR)) \
      || die "${handler} runs qemu ${major:-nothing} after registering ${conf}: ${arch} binaries cannot run here"
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
