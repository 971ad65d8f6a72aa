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
RELEASE ?= mcp-$(SERVER)
NAMESPACE ?= mcp

# $(call require,tool,make target that installs it)
require = command -v $(1) >/dev/null 2>&1 || { echo "error: '$(1)' is not installed; run 'make $(2)'" >&2; exit 1; }
not_yet = { echo "error: 'make $@' is not available yet: $(1)" >&2; exit 1; }

.PHONY: help
help: ## List the targets
	@echo "usage: make <target> [SERVER=name] [SERVERS=\"a b\"]"
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Setup
.PHONY: tools venv docker-engine base-image postgres
tools: ## Install the pinned toolchain (helm, ct, kind, kubeconform, helm-docs, uv, ...) into .tools/
	@bash scripts/install-tools.sh

$(UV):
	@bash scripts/install-tools.sh uv

venv: $(UV) ## Create .venv with the servers and test dependencies (uv, from uv.lock)
	@$(UV) sync --frozen --all-extras --quiet

docker-engine: ## Install Debian's docker.io and start dockerd when no Docker engine answers
	@bash scripts/docker-engine.sh

base-image: docker-engine ## Build the local Python base image (debootstrap + docker import)
	@bash scripts/base-image.sh

postgres: ## Start the project's private PostgreSQL on 127.0.0.1:55432 (installs it if missing)
	@bash scripts/postgres.sh start
	@echo "DATABASE_URL=$$(bash scripts/postgres.sh url)"

##@ Develop
.PHONY: up down lint test bench chart-docs
up: venv postgres ## Run the fleet locally and print each URL and a ready-to-paste .mcp.json
	@bash scripts/fleet.sh up

down: ## Stop the local fleet started by 'make up'
	@bash scripts/fleet.sh down

lint: venv ## Lint the Python code and the chart
	@$(call require,helm,tools)
	@$(UV) run --frozen ruff check servers tests bench scripts
	@$(UV) run --frozen ruff format --check servers tests bench scripts
	@helm lint --strict $(CHART) $(foreach f,$(wildcard values/*.yaml),-f $(f))
	@bash scripts/chart-docs.sh --check

test: tools venv postgres docker-engine ## Run the whole test suite (installs and starts what it needs)
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

bench: tools venv postgres ## Print the benchmarks (chart render, server throughput, memory embeddings)
	@for b in bench/*.py; do echo "== $$b"; $(UV) run --frozen python "$$b"; done

chart-docs: ## Regenerate the chart README parameter table from values.yaml
	@$(call require,helm-docs,tools)
	@bash scripts/chart-docs.sh

##@ Images
.PHONY: build-images
build-images: venv docker-engine ## Build one image per server (SERVERS="todo postgres" for some)
	@SERVERS="$(SERVERS)" bash scripts/build-images.sh

##@ Kubernetes
.PHONY: ct-lint ct-install kind-up kind-load kind-down install uninstall cluster-up cluster-down demo
ct-lint: ## Run chart-testing lint over every ci/*-values.yaml
	@$(call require,ct,tools)
	@ct lint --config ct.yaml --all

ct-install: ## Run chart-testing install against the current cluster
	@$(call not_yet,it needs a running cluster with the images loaded (issue 7: make cluster-up))

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

cluster-up: ## Bring up a single-node cluster built from the package registries
	@$(call not_yet,the registry-free cluster is issue 7; use 'make kind-up' where Docker can pull kind's node image)

cluster-down: ## Remove the cluster made by 'make cluster-up'
	@$(call not_yet,the registry-free cluster is issue 7)

demo: ## Cluster up, images built and loaded, the fleet installed, a tool called
	@$(call not_yet,needs 'make cluster-up' (issue 7); 'make up' runs the fleet locally today)
