#!/usr/bin/env bash
# Publishes a release to an OCI registry and checks a published one (`make release`,
# `make verify-release`):
#   release.sh push     push every image as one manifest list of its ARCHES images (each
#                       also under the tag <tag>-<arch>), each platform's image with its SBOM
#                       (syft, SPDX JSON) as a cosign attestation and a cosign signature, the
#                       list signed too, and the packaged chart (helm push), signed; print
#                       "REFERENCE sha256:DIGEST" per artifact (an image's: its list's), also
#                       written to RELEASE_DIR/digests.txt, and the chart values that install
#                       the release with every image pinned by digest: RELEASE_DIR/values.yaml
#   release.sh verify   check every artifact of this release in REGISTRY: its signature against
#                       the public key and, for an image, that it is a manifest list of ARCHES
#                       whose every platform is signed and has its SBOM attestation; each
#                       problem names the artifact (and platform) and what is wrong
#   release.sh images   print the images push would push
# Environment:
#   REGISTRY=host[:port][/path]  where to (no scheme: a loopback registry is spoken to over
#                       plain HTTP, as Docker does by default, any other over HTTPS)
#   IMAGES="..."        every image of a release (the Makefile's RELEASE_IMAGES)
#   SERVERS, CATALOG    names that pick some of IMAGES, as for `make build-images`
#   ARCHES              the platforms of every image (the Makefile's RELEASE_ARCHES): each must be
#                       built, `make build-images ARCHES="amd64 arm64"`
#   RELEASE_DIR         the generated key pair, the packaged chart, the SBOMs, digests.txt
#                       (default .run/release)
#   COSIGN_KEY          the signing key (file or KMS URI); default RELEASE_DIR/cosign.key, a key
#                       pair made on first use with COSIGN_PASSWORD
#   COSIGN_PASSWORD     the password of a key file
#   COSIGN_PUBLIC_KEY   what verify checks against; default COSIGN_KEY's public key, else
#                       RELEASE_DIR/cosign.pub
# Nothing here reaches Sigstore's public services (Rekor, Fulcio, TUF), which cannot be reached
# from every machine: signatures are made with a key pair and kept out of the transparency log
# (--tlog-upload=false), and verification takes the key alone (--insecure-ignore-tlog).
set -euo pipefail
shopt -s inherit_errexit

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
export PATH="$root/.tools/bin:$PATH"
release_dir=$(realpath -m "${RELEASE_DIR:-$root/.run/release}")
chart="$root/charts/mcp-servers"
# The chart goes to REGISTRY/charts/mcp-servers, beside the images' REGISTRY/mcp-servers/<name>.
CHART_REPOSITORY=charts
# Images are built as localhost/mcp-servers/<name> (scripts/server_registry.py says why) and
# published as REGISTRY/mcp-servers/<name>: the repository the chart's values name.
local_registry=$(image_prefix)
local_registry="${local_registry%%/*}"
published() { echo "${1#"$local_registry/"}"; }
read -r -a arches <<<"${ARCHES:-}"
check_arches "${arches[@]}"
# syft would otherwise ask GitHub for a newer release on every run.
export SYFT_CHECK_FOR_APP_UPDATE=false

chart_version() { sed -n 's/^version: *//p' "$chart/Chart.yaml" | tr -d '"'; }
chart_name() { sed -n 's/^name: *//p' "$chart/Chart.yaml"; }

# --- REGISTRY ---------------------------------------------------------------------------------

registry_host=""
plain_http=false
# What cosign and helm need to speak plain HTTP to the registry: nothing for HTTPS.
cosign_flags=()
helm_flags=()

parse_registry() {
  local registry="${REGISTRY:-}"
  [[ -n "$registry" ]] \
    || die "REGISTRY is not set: make $1 REGISTRY=host[:port]/path (the local one: make registry)"
  [[ "$registry" != *://* ]] \
    || die "REGISTRY must be host[:port]/path without a scheme, got '$registry' (e.g. ${registry#*://})"
  registry="${registry%/}"
  [[ "$registry" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$ ]] \
    || die "REGISTRY '$registry' is not host[:port]/path (lower-case path components)"
  REGISTRY="$registry"
  registry_host="${registry%%/*}"
  # Docker's rule: loopback registries are insecure by default; helm, cosign and syft must be
  # told.
  case "${registry_host%:*}" in
    127.* | localhost) plain_http=true cosign_flags=(--allow-http-registry) helm_flags=(--plain-http) ;;
  esac
}

scheme() { if $plain_http; then echo http; else echo https; fi; }

require_registry_answers() {
  local status
  # 401: a registry that wants a login answers all the same; docker, helm and cosign log in
  # with the credentials `docker login` left.
  status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(scheme)://$registry_host/v2/") || true
  [[ "$status" == 200 || "$status" == 401 ]] \
    || die "the registry $REGISTRY does not answer at $(scheme)://$registry_host/v2/ (HTTP status '$status'); is it running? (the local one: make registry)"
}

# Every manifest kind a release holds: lists (OCI index, Docker list) and images.
manifest_types="application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json"
manifest_types+=",application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"

# manifest_digest REPOSITORY REFERENCE: the digest the registry serves for a tag, or status 1.
manifest_digest() {
  curl -fsS --head --max-time 10 -H "Accept: $manifest_types" \
    "$(scheme)://$registry_host/v2/$1/manifests/$2" 2>/dev/null \
    | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" { print $2; found = 1 } END { exit !found }'
}

# --- what a release is ------------------------------------------------------------------------

repository_name() { local repository="${1%:*}"; echo "${repository##*/}"; }

selected_images() {
  local names="${SERVERS:-} ${CATALOG:-}" name image found known=""
  [[ -n "${IMAGES:-}" ]] || die "IMAGES is empty: run this through 'make release' or 'make verify-release'"
  if [[ -z "${names// /}" ]]; then
    # shellcheck disable=SC2086 # one word per image
    printf '%s\n' ${IMAGES}
    return
  fi
  for image in ${IMAGES}; do known+=" $(repository_name "$image")"; done
  for name in ${names}; do
    found=""
    for image in ${IMAGES}; do
      [[ "$(repository_name "$image")" == "$name" ]] && found="$image"
    done
    [[ -n "$found" ]] || die "'$name' in SERVERS/CATALOG is not an image of the release (known:${known})"
    echo "$found"
  done | awk '!seen[$0]++'
}

# --- keys -------------------------------------------------------------------------------------

is_key_file() { [[ "$1" != *://* ]]; }

signing_key() {
  local key="${COSIGN_KEY:-$release_dir/cosign.key}"
  if is_key_file "$key"; then
    [[ -v COSIGN_PASSWORD ]] \
      || die "COSIGN_PASSWORD is not set: the password of the signing key ${key#"$root/"} (made with it on first use)"
    if [[ -z "${COSIGN_KEY:-}" && ! -f "$key" ]]; then
      mkdir -p "$release_dir"
      (cd "$release_dir" && cosign generate-key-pair >/dev/null 2>&1) \
        || die "cosign generate-key-pair in ${release_dir#"$root/"} failed"
      log "made the signing key pair ${release_dir#"$root/"}/cosign.key and cosign.pub"
    fi
    [[ -f "$key" ]] || die "COSIGN_KEY: no such file: $key"
  fi
  echo "$key"
}

public_key() {
  if [[ -n "${COSIGN_PUBLIC_KEY:-}" ]]; then
    ! is_key_file "$COSIGN_PUBLIC_KEY" || [[ -f "$COSIGN_PUBLIC_KEY" ]] \
      || die "COSIGN_PUBLIC_KEY: no such file: $COSIGN_PUBLIC_KEY"
    echo "$COSIGN_PUBLIC_KEY"
  elif [[ -n "${COSIGN_KEY:-}" ]] && ! is_key_file "$COSIGN_KEY"; then
    echo "$COSIGN_KEY"
  elif [[ -n "${COSIGN_KEY:-}" ]]; then
    local derived="$release_dir/verify.pub"
    mkdir -p "$release_dir"
    cosign public-key --key "$(signing_key)" >"$derived" 2>/dev/null \
      || die "cosign public-key --key $COSIGN_KEY failed (wrong COSIGN_PASSWORD?)"
    echo "$derived"
  else
    [[ -f "$release_dir/cosign.pub" ]] \
      || die "no public key: ${release_dir#"$root/"}/cosign.pub does not exist (make release makes it); set COSIGN_PUBLIC_KEY"
    echo "$release_dir/cosign.pub"
  fi
}

require_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]} == 0)) \
    || die "not installed: ${missing[*]}; run 'make tools' (or: bash scripts/install-tools.sh ${missing[*]})"
}

# --- push -------------------------------------------------------------------------------------

# require_images_built IMAGE...: each image built for each of ARCHES, as that architecture
require_images_built() {
  local image arch local_image built missing=() servers=() catalog=() name catalog_names
  for image in "$@"; do
    for arch in "${arches[@]}"; do
      local_image=$(arch_tag "$image" "$arch")
      built=$(docker image inspect -f '{{.Architecture}}' "$local_image" 2>/dev/null) \
        || { missing+=("$local_image"); continue; }
      [[ "$built" == "$arch" ]] \
        || die "$local_image is a $built image, not $arch: rebuild it with make build-images ARCHES=\"${arches[*]}\""
    done
  done
  ((${#missing[@]} == 0)) && return
  catalog_names=" $(python3 "$root/scripts/catalog.py" names) "
  for image in "${missing[@]}"; do
    name=$(repository_name "$image")
    [[ " ${servers[*]} ${catalog[*]} " == *" $name "* ]] && continue
    if [[ "$catalog_names" == *" $name "* ]]; then catalog+=("$name"); else servers+=("$name"); fi
  done
  local build="make build-images"
  ((${#servers[@]})) && build+=" SERVERS=\"${servers[*]}\""
  ((${#catalog[@]})) && build+=" CATALOG=\"${catalog[*]}\""
  [[ "${arches[*]}" == "$(host_arch)" ]] || build+=" ARCHES=\"${arches[*]}\""
  die "not built: ${missing[*]}; run: $build"
}

# push_image IMAGE TARGET: pushes the local IMAGE as TARGET; prints its digest in the registry
push_image() {
  local image="$1" target="$2" output digest
  docker tag "$image" "$target"
  output=$(docker push "$target" 2>&1) || { docker rmi "$target" >/dev/null 2>&1 || true; log "$output"; die "docker push $target failed"; }
  # Only the release's name goes: the local image keeps its own tag.
  docker rmi "$target" >/dev/null
  digest=$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$output" | tail -n 1 | cut -d' ' -f2)
  [[ -n "$digest" ]] || die "docker push $target printed no digest: $output"
  echo "$digest"
}

# push_list IMAGE KEY: IMAGE's build for each of ARCHES pushed as <tag>-<arch>, each with its
# SBOM attested and signed, then joined into one manifest list under IMAGE's tag, signed; prints
# the list's digest
push_list() {
  local image="$1" key="$2" target arch digest output members=()
  target="$REGISTRY/$(published "$image")"
  for arch in "${arches[@]}"; do
    digest=$(push_image "$(arch_tag "$image" "$arch")" "$target-$arch")
    sbom_and_sign "${target%:*}@$digest" "$key"
    members+=("${target%:*}@$digest")
    log "    linux/$arch: $digest"
  done
  local insecure=()
  $plain_http && insecure=(--insecure)
  # --amend and --purge: docker keeps lists it is building under ~/.docker/manifests.
  output=$(docker manifest create "${insecure[@]}" --amend "$target" "${members[@]}" 2>&1) \
    || die "docker manifest create $target failed: $output"
  output=$(docker manifest push "${insecure[@]}" --purge "$target" 2>&1) \
    || die "docker manifest push $target failed: $output"
  digest=$(grep -oE '^sha256:[0-9a-f]{64}$' <<<"$output" | tail -n 1)
  [[ -n "$digest" ]] || die "docker manifest push $target printed no digest: $output"
  sign "$key" "${target%:*}@$digest"
  echo "$digest"
}

# sbom_and_sign REFERENCE@DIGEST KEY: the SBOM of what the registry holds, attested, and signed
sbom_and_sign() {
  local pinned="$1" key="$2" sbom
  sbom="$release_dir/sbom/$(tr '/:@' '___' <<<"${pinned#"$REGISTRY/"}").spdx.json"
  mkdir -p "$(dirname "$sbom")"
  quietly "syft scan $pinned" env SYFT_REGISTRY_INSECURE_USE_HTTP=$plain_http \
    syft scan --quiet "registry:$pinned" -o "spdx-json=$sbom"
  quietly "cosign attest $pinned" cosign attest --yes --tlog-upload=false "${cosign_flags[@]}" \
    --key "$key" --type spdxjson --predicate "$sbom" "$pinned"
  sign "$key" "$pinned"
}

# sign KEY REFERENCE@DIGEST
sign() {
  quietly "cosign sign $2" cosign sign --yes --tlog-upload=false "${cosign_flags[@]}" --key "$1" "$2"
}

# quietly WHAT CMD...: CMD's output only when it fails
quietly() {
  local what="$1" output
  shift
  output=$("$@" 2>&1) || die "$what failed: $output"
}

push_chart() {
  local key="$1" package output digest
  mkdir -p "$release_dir/chart"
  rm -f "$release_dir/chart/"*.tgz
  helm package "$chart" -d "$release_dir/chart" >/dev/null
  package=$(echo "$release_dir/chart/"*.tgz)
  output=$(helm push "$package" "oci://$REGISTRY/$CHART_REPOSITORY" "${helm_flags[@]}" 2>&1) \
    || die "helm push $package failed: $output"
  digest=$(grep -oE 'Digest: sha256:[0-9a-f]{64}' <<<"$output" | cut -d' ' -f2)
  [[ -n "$digest" ]] || die "helm push printed no digest: $output"
  sign "$key" "$REGISTRY/$CHART_REPOSITORY/$(chart_name)@$digest"
  echo "$digest"
}

# write_release_values "REPOSITORY DIGEST"...: the chart values that pin this release's images
write_release_values() {
  local pair values="$release_dir/values.yaml"
  {
    echo "# Written by make release: the chart's images from $REGISTRY, each pinned by digest."
    echo "#   helm install NAME oci://$REGISTRY/$CHART_REPOSITORY/$(chart_name) --version $(chart_version) \\"
    echo "#     -f values/<server>.yaml -f ${values#"$root/"}"
    echo "global:"
    echo "  imageRegistry: $REGISTRY"
    echo "  imageDigests:"
    for pair in "$@"; do echo "    ${pair% *}: \"${pair#* }\""; done
  } >"$values.partial"
  mv "$values.partial" "$values"
}

push() {
  local selected images image key digest started=$SECONDS lines=() pins=()
  parse_registry release
  selected=$(selected_images)
  mapfile -t images <<<"$selected"
  require_tools docker helm cosign syft
  docker info >/dev/null 2>&1 || die "no Docker engine answers; run 'make docker-engine'"
  require_images_built "${images[@]}"
  require_registry_answers
  key=$(signing_key)
  log "releasing ${#images[@]} images (${arches[*]}) and chart $(chart_name) $(chart_version) to $REGISTRY"
  for image in "${images[@]}"; do
    local step=$SECONDS
    digest=$(push_list "$image" "$key")
    lines+=("$REGISTRY/$(published "$image") $digest")
    pins+=("$(published "${image%:*}") $digest")
    log "  $image: $digest ($(elapsed "$step"))"
  done
  digest=$(push_chart "$key")
  lines+=("$REGISTRY/$CHART_REPOSITORY/$(chart_name):$(chart_version) $digest")
  mkdir -p "$release_dir"
  printf '%s\n' "${lines[@]}" >"$release_dir/digests.txt.partial"
  mv "$release_dir/digests.txt.partial" "$release_dir/digests.txt"
  write_release_values "${pins[@]}"
  printf '%s\n' "${lines[@]}"
  log "released ${#lines[@]} artifacts in $(elapsed "$started"); digests in ${release_dir#"$root/"}/digests.txt, chart values pinning them in ${release_dir#"$root/"}/values.yaml"
}

# --- verify -----------------------------------------------------------------------------------

problems=()

# check_signature WHAT REPOSITORY REFERENCE@DIGEST KEY: WHAT's cosign signature; a problem is
# added, prefixed with WHAT
check_signature() {
  local what="$1" repository="$2" pinned="$3" key="$4" digest="${3##*@}" error
  # cosign keeps a digest's signatures under the tag sha256-<hex>.sig, its attestations under .att.
  if ! manifest_digest "$repository" "${digest/:/-}.sig" >/dev/null; then
    problems+=("$what: missing signature")
  elif ! error=$(cosign verify --insecure-ignore-tlog "${cosign_flags[@]}" --key "$key" "$pinned" 2>&1 >/dev/null); then
    problems+=("$what: bad signature: $(grep -v '^WARNING' <<<"$error" | tail -n 1)")
  fi
}

# check_sbom WHAT REPOSITORY REFERENCE@DIGEST KEY: WHAT's SBOM attestation, as check_signature
check_sbom() {
  local what="$1" repository="$2" pinned="$3" key="$4" digest="${3##*@}" error
  if ! manifest_digest "$repository" "${digest/:/-}.att" >/dev/null; then
    problems+=("$what: missing SBOM attestation")
  elif ! error=$(cosign verify-attestation --insecure-ignore-tlog "${cosign_flags[@]}" --key "$key" \
      --type spdxjson "$pinned" 2>&1 >/dev/null); then
    problems+=("$what: bad SBOM attestation: $(grep -v '^WARNING' <<<"$error" | tail -n 1)")
  fi
}

# platforms REPOSITORY DIGEST: "os/arch DIGEST" per image of the manifest list DIGEST; nothing,
# with status 1, when DIGEST is a single image
platforms() {
  curl -fsS --max-time 10 -H "Accept: $manifest_types" "$(scheme)://$registry_host/v2/$1/manifests/$2" \
    | python3 -c '
import json, sys
manifest = json.load(sys.stdin)
for entry in manifest.get("manifests", []):
    platform = entry.get("platform", {})
    print("{}/{} {}".format(platform.get("os"), platform.get("architecture"), entry["digest"]))
sys.exit(0 if "manifests" in manifest else 1)'
}

# check ARTIFACT KIND KEY: KIND image (a signed manifest list of ARCHES, each platform signed,
# with its SBOM) or chart (signature)
check() {
  local artifact="$1" kind="$2" key="$3" repository tag digest before="${#problems[@]}"
  repository="${artifact%:*}" tag="${artifact##*:}"
  repository="${repository#"$registry_host/"}"
  digest=$(manifest_digest "$repository" "$tag") \
    || { problems+=("$artifact: not in the registry"); return; }
  check_signature "$artifact ($digest)" "$repository" "$artifact@$digest" "$key"
  if [[ "$kind" == image ]]; then
    local listed platform platform_digest arch what wanted=()
    for arch in "${arches[@]}"; do wanted+=("linux/$arch"); done
    if ! listed=$(platforms "$repository" "$digest"); then
      problems+=("$artifact ($digest): not a manifest list of ${wanted[*]}")
      # A single image still answers for its own SBOM.
      check_sbom "$artifact ($digest)" "$repository" "$artifact@$digest" "$key"
    else
      [[ "$(awk '{ print $1 }' <<<"$listed" | sort | xargs)" == "$(printf '%s\n' "${wanted[@]}" | sort | xargs)" ]] \
        || problems+=("$artifact ($digest): lists $(awk '{ print $1 }' <<<"$listed" | xargs), not ${wanted[*]}")
      while read -r platform platform_digest; do
        what="$artifact ($digest) $platform ($platform_digest)"
        check_signature "$what" "$repository" "${artifact%:*}@$platform_digest" "$key"
        check_sbom "$what" "$repository" "${artifact%:*}@$platform_digest" "$key"
      done <<<"$listed"
    fi
  fi
  ((${#problems[@]} > before)) || echo "$artifact $digest verified"
}

verify() {
  local selected images image key artifacts=0 problem
  parse_registry verify-release
  selected=$(selected_images)
  mapfile -t images <<<"$selected"
  require_tools cosign curl
  require_registry_answers
  key=$(public_key)
  for image in "${images[@]}"; do
    check "$REGISTRY/$(published "$image")" image "$key"
    artifacts=$((artifacts + 1))
  done
  check "$REGISTRY/$CHART_REPOSITORY/$(chart_name):$(chart_version)" chart "$key"
  artifacts=$((artifacts + 1))
  if ((${#problems[@]})); then
    for problem in "${problems[@]}"; do log "$problem"; done
    die "${#problems[@]} problem(s) in the release's $artifacts artifacts in $REGISTRY (key ${key#"$root/"})"
  fi
  log "all $artifacts artifacts in $REGISTRY are signed (key ${key#"$root/"}), the images with their SBOM"
}

case "${1:-}" in
  push) push ;;
  verify) verify ;;
  images) selected_images ;;
  *) echo "usage: $0 push|verify|images" >&2; exit 2 ;;
esac
