#!/usr/bin/env bash
# Builds one image per server from images/Dockerfile, tagged as the values files expect
# (localhost/mcp-servers/<server>:<version>). The wheelhouse (every wheel an image needs, for Linux
# CPython 3.11 on the image's architecture) is made on the host first, so `docker build` needs no
# network.
#   SERVERS="todo postgres"  which server images (default: every server in the registry,
#                        [tool.mcp-servers.servers] in pyproject.toml); the name todo-backend
#                        selects the reference backend's image, localhost/mcp-servers/todo-backend
#                        (clients/todo-backend, images/todo-backend.Dockerfile), which is built
#                        with the servers' when SERVERS is unset and otherwise only when named
#   CATALOG="time everything"  which stdio catalog images ([tool.mcp-servers.catalog]: the
#                        community package installed behind mcp-bridge; default: every entry
#                        when neither SERVERS nor CATALOG is set, else none)
#   BASE_IMAGE=...       base of the final stage; default python:3.11-slim (with BUILD_IMAGE
#                        python:3.11) when the engine has or can pull both, else the local
#                        Debian pair from scripts/base-image.sh (built if missing)
#   BUILD_IMAGE=...      base of the build stage: the same Python as BASE_IMAGE, plus binutils
#   INFERENCE=cpu|cuda   memory image flavour (onnxruntime or onnxruntime-gpu)
#   EXTRAS="tracing"     optional features ([tool.mcp-servers.extras] in pyproject.toml) added to
#                        every server image built, e.g. the OpenTelemetry SDK for OTEL_* tracing
#   IMAGE_SOURCE=url     org.opencontainers.image.source (default: git remote origin)
#   ARCHES="amd64 arm64" the architectures to build every selected image for (default: this
#                        machine's). Another architecture's image is tagged <tag>-<arch>
#                        (localhost/mcp-servers/todo:0.1.0-arm64), built under emulation (Debian's
#                        qemu-user 10+, lib.sh require_emulation) on that architecture's local Debian pair
#                        (scripts/base-image.sh ARCH=...): BASE_IMAGE and BUILD_IMAGE are the
#                        host's. `make release` joins the architectures into one manifest list.
# A wheelhouse is rebuilt only when its inputs (uv.lock, pyproject.toml, servers/) change, and
# docker's layer cache does the rest, so a second run with no change takes seconds.
set -euo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "${ROOT}/scripts/lib.sh"
cd "${ROOT}"

INFERENCE="${INFERENCE:-cpu}"
PUBLIC_BASE="python:3.11-slim"
PUBLIC_BUILD="python:3.11"
PREFIX="$(image_prefix)"
LOCAL_BASE="${PREFIX}/python-base:bookworm"
LOCAL_BUILD="${PREFIX}/python-build:bookworm"
WHEELHOUSE="${ROOT}/build/wheelhouse"
# The machine's copy of each wheelhouse, by fingerprint: a clean clone of the same lock (CI)
# links it instead of downloading ~60 wheels per image again.
WHEELHOUSE_CACHE="${XDG_CACHE_HOME:-${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}/.cache}/mcp-servers/wheelhouse"
HOST_ARCH="$(host_arch)"
read -r -a ARCHES <<<"${ARCHES:-${HOST_ARCH}}"
check_arches "${ARCHES[@]}"
# wheel_platforms ARCH: the wheel tags an image of ARCH takes, up to bookworm's glibc (2.36); pip
# does not widen a --platform to older manylinux tags itself.
wheel_platforms() {
  local machine v
  machine="$(machine_of "$1")"
  echo "manylinux2014_${machine}"
  for v in $(seq 17 36); do echo "manylinux_2_${v}_${machine}"; done
}

UV="${ROOT}/.tools/bin/uv"
[ -x "${UV}" ] || die "uv is not installed; run 'make tools'"

case "${INFERENCE}" in cpu|cuda) ;; *) die "INFERENCE must be cpu or cuda, got '${INFERENCE}'" ;; esac
# onnxruntime-gpu publishes Linux wheels for x86_64 only.
[ "${INFERENCE}" = cpu ] || [ "${ARCHES[*]}" = amd64 ] \
  || die "INFERENCE=cuda builds for amd64 only (onnxruntime-gpu has no other Linux wheels); ARCHES is '${ARCHES[*]}'"

registry() { python3 "${ROOT}/scripts/server_registry.py" "$@"; }
catalog() { python3 "${ROOT}/scripts/catalog.py" "$@"; }
KNOWN="$(registry names)"
CATALOG_KNOWN="$(catalog names)"
if [ -z "${SERVERS:-}" ] && [ -z "${CATALOG:-}" ]; then
  CATALOG="${CATALOG_KNOWN}"
fi
CATALOG="${CATALOG:-}"
BACKEND=todo-backend
BUILD_BACKEND=false
if [ -z "${SERVERS:-}" ]; then
  BUILD_BACKEND=true
elif [[ " ${SERVERS} " == *" ${BACKEND} "* ]]; then
  BUILD_BACKEND=true
  selected=""
  for s in ${SERVERS}; do [ "${s}" = "${BACKEND}" ] || selected+=" ${s}"; done
  # Named alone, the backend is the whole selection: a blank SERVERS selects no server.
  SERVERS="${selected:- }"
fi
SERVERS="${SERVERS:-${KNOWN}}"
for s in ${SERVERS}; do
  [[ " ${KNOWN} " == *" ${s} "* ]] || die "unknown server '${s}' in SERVERS (known: ${KNOWN}) or backend (${BACKEND})"
done
for c in ${CATALOG}; do
  [[ " ${CATALOG_KNOWN} " == *" ${c} "* ]] || die "unknown catalog entry '${c}' in CATALOG (known: ${CATALOG_KNOWN})"
done
# Every catalog image is built on the bridge's.
if [ -n "${CATALOG}" ] && [[ " ${SERVERS} " != *" bridge "* ]]; then
  SERVERS="${SERVERS} bridge"
fi

# spec SERVER: its extra ("-" for none), console script and port, from the server registry
spec() {
  local extra
  extra="$(registry get "$1" extra)"
  echo "${extra:--} $(registry get "$1" script) $(registry get "$1" port)"
}

bash "${ROOT}/scripts/docker-engine.sh"

has_image() { docker image inspect "$1" >/dev/null 2>&1; }
# A registry that cannot be reached refuses the pull at once; then the local pair is built.
has_or_pulls() {
  has_image "$1" && return
  log "pulling $1 (at most 10 min)"
  pull_image "$1" 600 >/dev/null
}
# use_bases ARCH: sets BASE and BUILD, the bases of ARCH's images. The host's are BASE_IMAGE and
# BUILD_IMAGE, else python:3.11-slim and python:3.11 when the engine has or can pull both, else
# the local Debian pair; another architecture's are its local pair, built when missing (a pull of
# python:3.11-slim for another platform would take the host's tag in this engine).
use_bases() {
  if [ "$1" != "${HOST_ARCH}" ]; then
    BASE="$(arch_tag "${LOCAL_BASE}" "$1")" BUILD="$(arch_tag "${LOCAL_BUILD}" "$1")"
    ARCH="$1" BASE_IMAGE="${BASE}" BUILD_IMAGE="${BUILD}" bash "${ROOT}/scripts/base-image.sh"
    return
  fi
  if [ -z "${BASE_IMAGE:-}" ]; then
    if has_or_pulls "${PUBLIC_BASE}" && has_or_pulls "${PUBLIC_BUILD}"; then
      BASE_IMAGE="${PUBLIC_BASE}" BUILD_IMAGE="${BUILD_IMAGE:-${PUBLIC_BUILD}}"
    else
      BASE_IMAGE="${LOCAL_BASE}" BUILD_IMAGE="${BUILD_IMAGE:-${LOCAL_BUILD}}"
      BASE_IMAGE="${LOCAL_BASE}" BUILD_IMAGE="${LOCAL_BUILD}" bash "${ROOT}/scripts/base-image.sh"
    fi
  fi
  # Without a matching build image the base builds too, only without stripped shared objects.
  BUILD_IMAGE="${BUILD_IMAGE:-${BASE_IMAGE}}"
  local image
  for image in "${BASE_IMAGE}" "${BUILD_IMAGE}"; do
    has_image "${image}" \
      || die "${image} (BASE_IMAGE/BUILD_IMAGE) is not in the engine; pull it, or unset BASE_IMAGE to use ${LOCAL_BASE}"
  done
  BASE="${BASE_IMAGE}" BUILD="${BUILD_IMAGE}"
}

VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
SOURCE="${IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || echo unknown)}"

fingerprint() {  # fingerprint FILE...: one hash over the contents of the given files
  sha256sum "$@" | sha256sum | cut -d' ' -f1
}

project_files() {
  find servers -type f -not -path '*/__pycache__/*' -not -name '*.pyc' | LC_ALL=C sort
}

# The project wheel is shared by every image; build it once per change of its sources.
project_wheel() {
  local dir="${WHEELHOUSE}/.project" want
  local sources
  mapfile -t sources < <(project_files)
  want="$(fingerprint pyproject.toml "${sources[@]}")"
  if [ "$(cat "${dir}/.fingerprint" 2>/dev/null)" != "${want}" ]; then
    rm -rf "${dir}" && mkdir -p "${dir}"
    "${UV}" build --wheel --quiet --out-dir "${dir}" >&2
    echo "${want}" >"${dir}/.fingerprint"
    log "built project wheel $(basename "${dir}"/*.whl)"
  fi
  ls "${dir}"/*.whl
}

# Drops the distributions listed in images/unneeded-distributions.txt from a hashed
# requirements list (a package line plus its indented --hash lines).
prune() {
  awk -v deny="$(grep -v '^#' "${ROOT}/images/unneeded-distributions.txt" | awk 'NF { printf "%s ", $1 }')" '
    BEGIN { n = split(deny, names, " "); for (i = 1; i <= n; i++) skip[names[i]] = 1 }
    /^[a-z0-9]/ { name = $0; sub(/[=; ].*/, "", name); dropping = (name in skip) }
    !dropping'
}

requirements() {  # requirements EXTRA: the locked, hashed dependency list for one server
  local extra_args=("--extra" "$1") feature
  [ "$1" = - ] && extra_args=()
  for feature in ${EXTRAS:-}; do extra_args+=("--extra" "${feature}"); done
  if [ "${INFERENCE}" = cuda ] && [ "$1" = memory ]; then
    # The lock resolves onnxruntime (CPU); resolve the same pins with the GPU build swapped in.
    # Its cuda and cudnn extras bring the CUDA libraries as wheels, so any base image works on
    # a node with the NVIDIA driver.
    local in
    in="$(mktemp)"
    "${UV}" export --quiet --frozen --no-dev "${extra_args[@]}" --no-emit-project --no-hashes \
      --format requirements-txt | sed -e 's/^onnxruntime==/onnxruntime-gpu[cuda,cudnn]==/' >"${in}"
    "${UV}" pip compile --quiet --generate-hashes --python-version 3.11 \
      --python-platform x86_64-manylinux_2_36 --no-header "${in}"
    rm -f "${in}"
  else
    "${UV}" export --quiet --frozen --no-dev "${extra_args[@]}" --no-emit-project --format requirements-txt
  fi
}

pip_download() {  # pip_download REQUIREMENTS DEST
  local pip=(python3 -m pip)
  python3 -m pip --version >/dev/null 2>&1 || pip=("${UV}" tool run --quiet --from pip pip)
  "${pip[@]}" download --quiet --no-deps --require-hashes --only-binary=:all: \
    "${PLATFORMS[@]/#/--platform=}" --python-version 3.11 --implementation cp --abi cp311 \
    -r "$1" -d "$2"
}

link_or_copy() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; }

# cached_wheels DIR REQUIREMENTS FINGERPRINT COMMAND...: DIR/wheels and DIR/REQUIREMENTS for the
# lock FINGERPRINT names, linked from the machine cache, or else COMMAND's hashed requirements
# pruned and downloaded, and the result kept in the cache.
cached_wheels() {
  local dir="$1" reqs="$2" cached="${WHEELHOUSE_CACHE}/$3"
  shift 3
  rm -rf "${dir}/wheels" && mkdir -p "${dir}"
  if [ -f "${cached}/complete" ]; then
    link_or_copy "${cached}/wheels" "${dir}/wheels"
    cp "${cached}/requirements.txt" "${dir}/${reqs}"
    return
  fi
  mkdir -p "${dir}/wheels"
  "$@" | prune >"${dir}/${reqs}"
  pip_download "${dir}/${reqs}" "${dir}/wheels"
  # Published whole or not at all: another clone may be reading the cache.
  rm -rf "${cached}.partial" && mkdir -p "${cached}.partial"
  link_or_copy "${dir}/wheels" "${cached}.partial/wheels"
  cp "${dir}/${reqs}" "${cached}.partial/requirements.txt"
  touch "${cached}.partial/complete"
  rm -rf "${cached}" && mv "${cached}.partial" "${cached}"
  # A lock's wheels unused for a week belong to commits long gone.
  find "${WHEELHOUSE_CACHE}" -mindepth 1 -maxdepth 1 -type d -mtime +7 -exec rm -rf {} +
}

# share_files EXTRA DIR: what an image carries beside its wheels, in /opt/venv/share/mcp-servers
# (empty for most): the memory server's derived model, made here with the locked tools, which
# the image then does not need. Written only when missing or changed, like the wheels.
share_files() {
  mkdir -p "$2"
  [ "$1" = memory ] || return 0
  "${UV}" run --frozen --all-extras --quiet python -m mcp_memory.model_derivation "$2/models" >/dev/null \
    || die "cannot derive the memory server's dynamic-int8 model (above)"
}

wheelhouse() {  # wheelhouse NAME EXTRA: prints the context dir for one image
  local name="$1" extra="$2" dir="${WHEELHOUSE}/$1" want
  want="$(fingerprint uv.lock pyproject.toml images/unneeded-distributions.txt <(echo "${extra} ${EXTRAS:-} ${INFERENCE} ${PLATFORMS[*]}"))"
  if [ "$(cat "${dir}/.fingerprint-${INFERENCE}" 2>/dev/null)" != "${want}" ]; then
    local t0=$SECONDS
    cached_wheels "${dir}" "requirements-${INFERENCE}.txt" "${want}" requirements "${extra}"
    echo "${want}" >"${dir}/.fingerprint-${INFERENCE}"
    log "wheelhouse ${name} (${INFERENCE}): $(find "${dir}/wheels" -name '*.whl' | wc -l) wheels, $((SECONDS - t0)) s"
  fi
  share_files "${extra}" "${dir}/share"
  # Copy only on change, so the COPY layer's cache survives an unchanged wheel.
  local whl
  whl="$(project_wheel)"
  mkdir -p "${dir}/project"
  if ! cmp -s "${whl}" "${dir}/project/$(basename "${whl}")"; then
    rm -f "${dir}/project/"*.whl
    cp "${whl}" "${dir}/project/"
  fi
  echo "${dir}"
}

# The reference backend's context (images/todo-backend.Dockerfile), made as wheelhouse() makes a
# server's: its locked closure without the workspace members (on no index), pruned, downloaded
# once per lock through the machine cache; and the two workspace wheels, built only when
# clients/ changes and copied only when they differ, so that a run with no change costs ~1 s.
backend_context() {
  local dir project="${WHEELHOUSE}/.${BACKEND}-project" want
  dir="${WHEELHOUSE}/$(arch_tag "${BACKEND}" "${ARCH}")"
  want="$(fingerprint uv.lock pyproject.toml images/unneeded-distributions.txt <(echo "${BACKEND} ${PLATFORMS[*]}"))"
  if [ "$(cat "${dir}/.fingerprint" 2>/dev/null)" != "${want}" ]; then
    local t0=$SECONDS
    cached_wheels "${dir}" requirements.txt "${want}" "${UV}" export --quiet --frozen --no-dev \
      --package mcp-todo-backend --no-emit-workspace --format requirements-txt
    echo "${want}" >"${dir}/.fingerprint"
    log "wheelhouse ${BACKEND}: $(find "${dir}/wheels" -name '*.whl' | wc -l) wheels, $((SECONDS - t0)) s"
  fi
  local sources
  mapfile -t sources < <(find clients -type f -not -path '*/__pycache__/*' -not -name '*.pyc' | LC_ALL=C sort)
  want="$(fingerprint "${sources[@]}")"
  if [ "$(cat "${project}/.fingerprint" 2>/dev/null)" != "${want}" ]; then
    rm -rf "${project}" && mkdir -p "${project}"
    local package
    for package in mcp-backend-client mcp-todo-backend; do
      "${UV}" build --wheel --quiet --package "${package}" --out-dir "${project}" >&2
    done
    echo "${want}" >"${project}/.fingerprint"
    log "built backend wheels $(cd "${project}" && echo *.whl)"
  fi
  if [ "$(cd "${project}" && sha256sum -- *.whl)" != "$(cd "${dir}/project" 2>/dev/null && sha256sum -- *.whl)" ]; then
    rm -rf "${dir}/project" && mkdir -p "${dir}/project"
    cp "${project}"/*.whl "${dir}/project/"
  fi
  echo "${dir}"
}

mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }

# docker build for the architecture being built: the engine's legacy builder (no BuildKit here)
# honours --platform, and runs another architecture's RUN steps under emulation.
build() { DOCKER_BUILDKIT=0 docker build --platform "linux/${ARCH}" "$@"; }

# report_line TAG SECONDS: the image's size, above its base, and the time it took
report_line() {
  local size
  size="$(docker image inspect -f '{{.Size}}' "$1")"
  printf '%-48s %8s MB %8s MB %6s s\n' "$1" "$(mb "${size}")" "$(mb $((size - base_size)))" "$2"
}

build_catalog_image() {  # build_catalog_image ENTRY: builds it, prints its report line
  local entry="$1" tag start context entry_args
  tag="$(arch_tag "${PREFIX}/${entry}:$(catalog get "${entry}" tag)" "${ARCH}")"
  start=$SECONDS
  context="${ROOT}/build/catalog/$(arch_tag "${entry}" "${ARCH}")"
  long "catalog context ${entry} (${ARCH})" "the locked packages, downloaded once" \
    catalog context "${entry}" "${context}" --arch "${ARCH}" \
    || { log "making the build context of ${entry} failed (full log: .run/logs/build-images.log)"; return 1; }
  mapfile -t entry_args < <(catalog build-args "${entry}")
  long "docker build ${tag}" "about a minute from empty caches$(emulated)" \
    build --force-rm -f "images/catalog/$(catalog get "${entry}" registry).Dockerfile" \
      --build-arg "BRIDGE_IMAGE=${bridge_stage}" --build-arg "BUILD_IMAGE=${BUILD}" \
      --build-arg "VERSION=$(catalog get "${entry}" tag)" --build-arg "REVISION=${REVISION}" --build-arg "SOURCE=${SOURCE}" \
      "${entry_args[@]/#/--build-arg=}" \
      -t "${tag}" "${context}" \
    || { log "docker build of ${tag} failed (full log: .run/logs/build-images.log)"; return 1; }
  report_line "${tag}" $((SECONDS - start))
}

emulated() { [ "${ARCH}" = "${HOST_ARCH}" ] || echo ", several times longer under ${ARCH} emulation"; }

report=()
reports=""
trap 'rm -rf "${reports}"' EXIT
total_start=$SECONDS
for ARCH in "${ARCHES[@]}"; do
  require_emulation "${ARCH}"
  use_bases "${ARCH}"
  mapfile -t PLATFORMS < <(wheel_platforms "${ARCH}")
  base_size="$(docker image inspect -f '{{.Size}}' "${BASE}")"
  log "base ${BASE} build ${BUILD} (${ARCH}, $(mb "${base_size}") MB base), version ${VERSION}, revision ${REVISION:0:12}"
  for server in ${SERVERS}; do
    read -r extra command port <<<"$(spec "${server}")"
    tag="${PREFIX}/${server}:${VERSION}"
    [ "${server}" = memory ] && [ "${INFERENCE}" = cuda ] && tag="${tag}-cuda"
    # EXTRAS make other images, not replacements (localhost/mcp-servers/todo:0.1.0-tracing), each
    # from a wheelhouse of its own.
    suffix=""
    for feature in ${EXTRAS:-}; do suffix+="-${feature}"; done
    tag="$(arch_tag "${tag}${suffix}" "${ARCH}")"
    start=$SECONDS
    context="$(wheelhouse "$(arch_tag "${server}${suffix}" "${ARCH}")" "${extra}")"
    server_args=(--build-arg "BASE_IMAGE=${BASE}" --build-arg "BUILD_IMAGE=${BUILD}" --build-arg "INFERENCE=${INFERENCE}"
      --build-arg "COMMAND=${command}" --build-arg "PORT=${port}")
    long "docker build ${tag}" "1-3 min from empty caches, seconds when only server code changed$(emulated)" \
      build --force-rm -f images/Dockerfile "${server_args[@]}" \
        --build-arg "TITLE=mcp-servers/${server}" --build-arg "VERSION=${VERSION}" \
        --build-arg "REVISION=${REVISION}" --build-arg "SOURCE=${SOURCE}" \
        -t "${tag}" "${context}" \
      || die "docker build of ${tag} failed (full log: .run/logs/build-images.log)"
    if [ "${server}" = bridge ]; then
      # The catalog images' base: the bridge without its labels (all cached by the build above),
      # the same image ID at each commit that leaves the bridge as it was.
      bridge_stage="$(build -q --target server -f images/Dockerfile "${server_args[@]}" "${context}" 2>>.run/logs/build-images.log)" \
        || die "docker build of the bridge's server stage failed (full log: .run/logs/build-images.log)"
    fi
    report+=("$(report_line "${tag}" $((SECONDS - start)))")
  done

  if [ "${BUILD_BACKEND}" = true ]; then
    tag="$(arch_tag "${PREFIX}/${BACKEND}:${VERSION}" "${ARCH}")"
    start=$SECONDS
    context="$(backend_context)"
    long "docker build ${tag}" "a minute from empty caches, seconds when only clients/ changed$(emulated)" \
      build --force-rm -f images/todo-backend.Dockerfile \
        --build-arg "BASE_IMAGE=${BASE}" --build-arg "BUILD_IMAGE=${BUILD}" \
        --build-arg "VERSION=${VERSION}" --build-arg "REVISION=${REVISION}" --build-arg "SOURCE=${SOURCE}" \
        -t "${tag}" "${context}" \
      || die "docker build of ${tag} failed (full log: .run/logs/build-images.log)"
    report+=("$(report_line "${tag}" $((SECONDS - start)))")
  fi

  # Three at a time: each catalog image is a new top on the bridge image, mostly docker's own
  # copying and one check run, so builds side by side finish sooner on two cores than in a row.
  reports="$(mktemp -d)"
  for entry in ${CATALOG}; do
    while (($(jobs -rp | wc -l) >= 3)); do wait -n || true; done
    build_catalog_image "${entry}" >"${reports}/${entry}" &
  done
  wait
  for entry in ${CATALOG}; do
    line="$(cat "${reports}/${entry}")"
    [ -n "${line}" ] || { rm -rf "${reports}"; die "the ${ARCH} image of catalog entry ${entry} was not built (see above)"; }
    report+=("${line}")
  done
  rm -rf "${reports}"
done

printf '%-48s %11s %11s %8s\n' IMAGE SIZE "ABOVE BASE" TIME
printf '%s\n' "${report[@]}"
# A rebuilt tag leaves its previous image untagged. Drop ours (by the labels only our final stages
# carry, so no build in progress loses a layer): a long-lived CI machine had filled 30 GB with
# them, until the kubelet's disk-pressure eviction broke the test cluster.
docker image prune --force --filter label=io.mcp-servers.inference >/dev/null
docker image prune --force --filter label=io.mcp-servers.package >/dev/null
log "done in $((SECONDS - total_start)) s"
