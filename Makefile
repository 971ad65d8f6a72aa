# mcp-servers: every entry point of the project. `make` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
TOOLS_BIN := $(ROOT)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)
export CT_CONFIG_DIR := $(ROOT)/.tools/ct
UV := $(TOOLS_BIN)/uv
CHART := charts/mcp-servers
SERVER ?=
SERVERS ?=
CATALOG ?=
RELEASE ?= mcp-$(SERVER)
NAMESPACE ?= mcp

# $(call require,tool,make target that installs it)
require = command -v $(1) >/dev/null 2>&1 || { echo "error: '$(1)' is not installed; run 'make $(2)'" >&2; exit 1; }

.PHONY: help
help: ## List the targets
	@echo "usage: make <target> [SERVER=name] [SERVERS=\"a b\"]"
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Setup
.PHONY: tools venv docker-engine base-image postgres
tools: ## Install the pinned toolchain (helm, ct, kind, kubeconform, helm-docs, uv, ...) into .tools/
	@bash scripts/install-tools.sh

$(UV):
	@bash scripts/install-tools.sh uv

venv: $(UV) ## Create .venv with the servers and test dependencies (uv, from uv.lock), and the memory server's derived model
	@$(UV) sync --frozen --all-extras --quiet
	@.venv/bin/python -m mcp_memory.model_derivation >/dev/null

docker-engine: ## Install Debian's docker.io and start dockerd when no Docker engine answers
	@bash scripts/docker-engine.sh

base-image: docker-engine ## Build the local Python base images from Debian packages (ARCH=arm64 for arm64's, under emulation)
	@ARCH="$(ARCH)" bash scripts/base-image.sh

postgres: ## Start the project's private PostgreSQL on 127.0.0.1:55432 (installs it if missing)
	@bash scripts/postgres.sh start
	@echo "DATABASE_URL=$$(bash scripts/postgres.sh url)"

SHELL_SCRIPTS := $(wildcard scripts/*.sh) .ci/run

##@ Develop
.PHONY: up down lint test bench chart-docs ci-values ci-cold
# fleet.sh, not a 'postgres' prerequisite, decides about PostgreSQL: DATABASE_URL when set, else
# the private one if it can start, else todo alone on SQLite.
up: venv ## Run the fleet locally and print each URL and a ready-to-paste .mcp.json
	@bash scripts/fleet.sh up

down: ## Stop the local fleet, and the private PostgreSQL if 'make up' started it
	@bash scripts/fleet.sh down

lint: venv ## Lint the Python code, the shell scripts and the chart
	@$(call require,helm,tools)
	@$(call require,shellcheck,tools)
	@shellcheck --external-sources $(SHELL_SCRIPTS)
	@$(UV) run --frozen ruff check servers tests bench scripts testing hatch_build.py
	@$(UV) run --frozen ruff format --check servers tests bench scripts testing hatch_build.py
	@helm lint --strict $(CHART) $(foreach f,$(wildcard values/*.yaml),-f $(f))
	@bash scripts/chart-docs.sh --check

# Outside tests/cluster the tests mostly wait (server start-up, PostgreSQL, Docker), so they run on
# TEST_WORKERS pytest-xdist workers (0: in one process), a test module per worker, as its servers
# are module-scoped; tests/cluster, all on one cluster, runs afterwards, even when the first part
# failed. PYTEST_ARGS go to every run (-x, -k NAME, ...).
TEST_WORKERS ?= 3
# The cluster tests mostly wait on pods, so two modules at a time share the one cluster; the
# test that removes the cluster runs alone after them. (Three took 468 s instead of 570 alone on
# this machine and passed twice, but in the third run, at a load of 14, Hydra closed a
# key-rotation request unanswered. Running them beside the other tests, as soon as the cluster
# is prepared, took 26 instead of 33 minutes, but at a load of 10-20 on two cores
# timing-sensitive tests outside failed.)
CLUSTER_TEST_WORKERS ?= 2
CLUSTER_DOWN_TEST = tests/cluster/test_cluster.py::test_cluster_down_removes_everything_it_created
# pytest's 5, "no tests collected": a failure of the whole suite, not of a PYTEST_ARGS selection
# that leaves one of the two runs empty.
NO_TESTS_STATUS = $(if $(strip $(PYTEST_ARGS)),5,none)
# When tests/cluster fails, the node's health (load, etcd's disk latency, components' errors) is
# printed before the last test removes the node: the end of the output is what CI shows.
# The cluster tests' cluster is prepared (scripts/cluster.sh prepare) while the other tests
# run, and the tests are told the images are built already (MCP_SERVERS_IMAGES_BUILT). The
# preparation also builds the local node's tools (`make cluster-tools`, which only tests/cluster
# needs): seconds from the machine cache, but on a new machine ~26 min of Go builds that the
# other tests then overlap.
test: tools venv postgres docker-engine build-images ## Run the whole test suite (installs and starts what it needs, a cluster included)
	@failed=0; mkdir -p .run/logs; \
	bash scripts/cluster.sh prepare $(CLUSTER_IMAGES) >.run/logs/cluster-prepare.log 2>&1 & \
	preparing=$$!; \
	run_pytest() { last=0; $(UV) run --frozen pytest "$$@" $(PYTEST_ARGS) || { last=$$?; \
	  [ "$$last" = "$(NO_TESTS_STATUS)" ] && last=0 || failed=$$last; }; }; \
	MCP_SERVERS_IMAGES_BUILT=1 run_pytest -n $(TEST_WORKERS) --dist loadscope --ignore=tests/cluster; \
	wait $$preparing || echo "make test: preparing the cluster failed; tests/cluster tries again (.run/logs/cluster-prepare.log)"; \
	MCP_SERVERS_IMAGES_BUILT=1 run_pytest -n $(CLUSTER_TEST_WORKERS) --dist loadscope tests/cluster \
	  --deselect $(CLUSTER_DOWN_TEST); \
	[ "$$last" = 0 ] || bash scripts/cluster.sh health || true; \
	MCP_SERVERS_IMAGES_BUILT=1 run_pytest $(CLUSTER_DOWN_TEST); \
	exit $$failed

ci-cold: ## Time CI as a new machine runs it: .ci/run on a clean clone with empty caches and an engine with no images (stop Docker first)
	@bash scripts/cold-ci.sh

bench: tools venv postgres ## Print the benchmarks (chart render, server throughput, bridge overhead, memory embeddings)
	@command -v wrk >/dev/null || bash -c 'source scripts/lib.sh && long "installing wrk, a load generator of bench/servers.py" "seconds" apt_install wrk'
	@for b in bench/*.py; do echo "== $$b"; $(UV) run --frozen python "$$b"; done

ci-values: venv ## Regenerate charts/mcp-servers/ci/ from values/ and the overlays in values/ci/
	@$(UV) run --frozen python scripts/ci_values.py

chart-docs: ## Regenerate the chart README parameter table from values.yaml
	@$(call require,helm-docs,tools)
	@bash scripts/chart-docs.sh

##@ Images
.PHONY: build-images catalog-lock
# The report (base images, sizes) is kept for the tests, which take it instead of building again.
build-images: venv docker-engine ## Build one image per server and catalog entry (SERVERS="todo", CATALOG="time" for some; ARCHES="amd64 arm64" for both platforms)
	@mkdir -p .run; SERVERS="$(SERVERS)" CATALOG="$(CATALOG)" ARCHES="$(ARCHES)" bash scripts/build-images.sh 2>&1 \
	  | tee .run/build-images.report

catalog-lock: tools ## Re-pin the stdio catalog's packages (images/catalog/) after a version in pyproject.toml changes
	@python3 scripts/catalog.py lock $(CATALOG)

##@ Kubernetes
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
SERVER_IMAGES = $(shell python3 scripts/server_registry.py images $(VERSION))
# The catalog entries that run here (no internet, no account): what the cluster tests install.
CATALOG_IMAGES = $(shell python3 scripts/catalog.py images --runnable)
# The reference backend (clients/todo-backend), which build-images.sh builds with the servers.
BACKEND_IMAGES = $(shell python3 scripts/server_registry.py image-prefix)/todo-backend:$(VERSION)
# What the cluster gets: `make test` and cluster-load load it, tests/cluster reads it from
# `make cluster-images`, so this is the one list.
CLUSTER_IMAGES = $(SERVER_IMAGES) $(CATALOG_IMAGES) $(BACKEND_IMAGES)

.PHONY: ct-lint ct-install kind-up kind-load kind-down install uninstall cluster-tools cluster-up cluster-ingress cluster-oidc cluster-tracing cluster-metrics cluster-external-secrets cluster-prometheus dashboard-screenshot cluster-load cluster-images cluster-down demo
ct-lint: ## Run chart-testing lint over every ci/*-values.yaml
	@$(call require,ct,tools)
	@ct lint --config ct.yaml --all

cluster-tools: ## Build the local node's binaries (Kubernetes v1.34, etcd, CoreDNS, kube-router, Traefik) into .tools/
	@bash scripts/install-tools.sh cluster

cluster-up: docker-engine ## Bring up a single-node cluster: kind where it can boot, else a local node (built on first use)
	@bash scripts/cluster.sh up

cluster-ingress: cluster-up ## Add Traefik (Ingress + Gateway API) to the cluster; a host reaches it at http://NODE_IP:30080
	@bash scripts/cluster.sh ingress

cluster-oidc: cluster-up ## Add Ory Hydra (OpenID provider, namespace oidc); prints its issuer and the host's public and admin URLs
	@bash scripts/cluster.sh oidc

cluster-tracing: cluster-up ## Add Jaeger's all-in-one (OTLP gRPC in, namespace tracing); prints the endpoint for tracing.endpoint and the host's query URL
	@bash scripts/cluster.sh tracing

cluster-metrics: cluster-up ## Add metrics-server (kube-system) to the cluster: the resource metrics API of HorizontalPodAutoscalers and kubectl top
	@bash scripts/cluster.sh metrics-server

cluster-external-secrets: cluster-up ## Add the External Secrets Operator and the ClusterSecretStore platform-secrets that values/ names
	@bash scripts/cluster.sh external-secrets

cluster-prometheus: cluster-up ## Add Prometheus (namespace monitoring) and the ServiceMonitor/PrometheusRule CRDs; prints the URL of its API
	@bash scripts/cluster.sh prometheus

# The data is what tests/cluster/test_cluster_monitoring.py saved from its run.
dashboard-screenshot: venv ## Redraw docs/images/mcp-servers-dashboard.png from the last monitoring cluster test's data
	@$(UV) run --frozen python scripts/render_dashboard.py --data .run/monitoring/dashboard-data.json \
	  --out docs/images/mcp-servers-dashboard.png

cluster-load: ## Build the server images, the runnable catalog's and the backend's, and load them into the cluster
	@$(MAKE) build-images CATALOG="$$(python3 scripts/catalog.py names --runnable)"
	@bash scripts/cluster.sh load $(CLUSTER_IMAGES)

cluster-images: ## Print the images cluster-load and the cluster tests load (servers, runnable catalog, backend)
	@echo $(CLUSTER_IMAGES)

cluster-down: ## Remove the cluster and everything it created (processes, bridge, iptables rules, files)
	@bash scripts/cluster.sh down

ct-install: tools cluster-up cluster-load ## Run chart-testing install for every ci/*-values.yaml on the cluster
	@bash scripts/ct-install.sh

# Evaluated when make starts, so the demo's closing line reports the whole run, prerequisites included.
demo: export DEMO_STARTED := $(shell date +%s)
demo: tools venv cluster-up cluster-load ## Cluster up, images loaded, the fleet installed, a tool called, .mcp.json printed
	@bash scripts/demo.sh

kind-up: ## Create a kind cluster (needs Docker and a kind node image)
	@$(call require,kind,tools)
	@bash scripts/kind.sh up

kind-load: ## Load the server images into the kind cluster
	@$(call require,kind,tools)
	@bash scripts/kind.sh load

kind-down: ## Delete the kind cluster
	@$(call require,kind,tools)
	@bash scripts/kind.sh down

install: ## Install one server into the current cluster: make install SERVER=todo
	@$(call require,helm,tools)
	@bash scripts/install-server.sh "$(SERVER)" "$(NAMESPACE)"

uninstall: ## Uninstall one server: make uninstall SERVER=todo
	@$(call require,helm,tools)
	@bash scripts/install-server.sh --uninstall "$(SERVER)" "$(NAMESPACE)"

##@ Release
.PHONY: registry release verify-release release-images
# host[:port]/path, no scheme; a loopback one (make registry) is spoken to over plain HTTP.
REGISTRY ?=
# Every catalog entry's image, runnable here or not: build-images builds them all by default.
CATALOG_ALL_IMAGES = $(shell python3 scripts/catalog.py images)
# What `make build-images` builds by default, so what a release is; SERVERS and CATALOG pick some
# of them by name, as they do for build-images.
RELEASE_IMAGES = $(SERVER_IMAGES) $(BACKEND_IMAGES) $(CATALOG_ALL_IMAGES)
# Every image is released as one manifest list of these platforms.
RELEASE_ARCHES = amd64 arm64
RELEASE_ENV = REGISTRY="$(REGISTRY)" IMAGES="$(RELEASE_IMAGES)" SERVERS="$(SERVERS)" CATALOG="$(CATALOG)" \
  ARCHES="$(or $(ARCHES),$(RELEASE_ARCHES))"

registry: ## Start the project's OCI registry (127.0.0.1, storage under .run/registry/) and print its REGISTRY address
	@bash scripts/registry.sh start
	@bash scripts/registry.sh url

release: docker-engine ## Push the chart and images to REGISTRY=host[:port]/path, signed, images with SBOMs; print digests (key: COSIGN_KEY, or .run/release/cosign.key made with COSIGN_PASSWORD)
	@$(RELEASE_ENV) bash scripts/release.sh push

verify-release: ## Check each artifact of this version in REGISTRY=...: signature (COSIGN_PUBLIC_KEY or .run/release/cosign.pub), SBOM
	@$(RELEASE_ENV) bash scripts/release.sh verify

release-images: ## Print the images make release pushes (SERVERS="todo", CATALOG="time" for some)
	@$(RELEASE_ENV) bash scripts/release.sh images | xargs
