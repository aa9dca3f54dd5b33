# ReleaseGuard developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# What `make test-fast` runs; tests/e2e is all subprocesses and clusters.
FAST_LAYERS := tests/api tests/core tests/operator tests/checks tests/cli tests/project tests/properties tests/chart tests/kubesim
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help

##@ Everyday

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*##/ {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: test
test: $(STAMP) system-deps kube lint typecheck manifests-check ## Lint, type-check, drift-check, run the whole suite on kubesim and the real control plane
	$(BIN)/pytest -q

.PHONY: test-fast
test-fast: $(STAMP) ## The pure layers only (no subprocess, server or cluster: `-m "not slow"`), in seconds
	$(BIN)/pytest -q -m "not slow" $(FAST_LAYERS)

.PHONY: test-kubesim
test-kubesim: $(STAMP) system-deps ## The whole suite on kubesim only (no Go build)
	RG_BACKENDS=kubesim $(BIN)/pytest -q

.PHONY: demo
demo: $(STAMP) ## Run the end-to-end demo against kubesim
	$(BIN)/python examples/demo.py

.PHONY: demo-real
demo-real: $(STAMP) kube ## The same demo on the real control plane (kube-apiserver, controllers, scheduler, etcd)
	$(BIN)/python examples/demo.py --backend real

.PHONY: bench
bench: $(STAMP) system-deps kube ## Run the benchmarks and print their figures
	$(BIN)/python -m bench

##@ Pieces of `make test`

.PHONY: lint
lint: $(STAMP) ## ruff check and format check
	$(BIN)/ruff check operator tests examples bench
	$(BIN)/ruff format --check operator tests examples bench

.PHONY: typecheck
typecheck: $(STAMP) ## mypy (strict on operator/releaseguard and the tests' shared helpers, tests/support)
	$(BIN)/mypy operator/releaseguard tests/support

.PHONY: manifests
manifests: $(STAMP) ## Regenerate the CRD from the models and deploy/ from the chart
	$(BIN)/releaseguard crd > crds/releaseverifications.releaseguard.io.yaml
	cp crds/releaseverifications.releaseguard.io.yaml charts/releaseguard/crds/
	$(BIN)/releaseguard crd --kind VerificationRun > crds/verificationruns.releaseguard.io.yaml
	cp crds/verificationruns.releaseguard.io.yaml charts/releaseguard/crds/
	$(BIN)/python -m releaseguard.dashboard > dashboards/releaseguard.json
	cp dashboards/releaseguard.json charts/releaseguard/files/dashboard.json
	$(BIN)/python -m releaseguard.incident > schemas/incident.v1.json
	$(BIN)/python deploy/render.py > deploy/releaseguard.yaml
	$(BIN)/python deploy/render.py --admission-policy > deploy/admission-policy.yaml

.PHONY: manifests-check
manifests-check: $(STAMP) ## Fail when crds/ or deploy/ differ from what the models and the chart generate
	@$(BIN)/releaseguard crd | diff -u crds/releaseverifications.releaseguard.io.yaml - \
		|| { echo "crds/ is stale: run 'make manifests' and commit the result" >&2; exit 1; }
	@$(BIN)/releaseguard crd --kind VerificationRun | diff -u crds/verificationruns.releaseguard.io.yaml - \
		|| { echo "crds/ is stale: run 'make manifests' and commit the result" >&2; exit 1; }
	@for f in dashboards/releaseguard.json charts/releaseguard/files/dashboard.json; do \
		$(BIN)/python -m releaseguard.dashboard | diff -u $$f - \
		|| { echo "$$f is stale: run 'make manifests' and commit the result" >&2; exit 1; }; done
	@$(BIN)/python -m releaseguard.incident | diff -u schemas/incident.v1.json - \
		|| { echo "schemas/ is stale: run 'make manifests' and commit the result" >&2; exit 1; }
	@$(BIN)/python deploy/render.py | diff -u deploy/releaseguard.yaml - \
		|| { echo "deploy/ is stale: run 'make manifests' and commit the result" >&2; exit 1; }
	@$(BIN)/python deploy/render.py --admission-policy | diff -u deploy/admission-policy.yaml - \
		|| { echo "deploy/ is stale: run 'make manifests' and commit the result" >&2; exit 1; }

.PHONY: format
format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix operator tests examples bench
	$(BIN)/ruff format operator tests examples bench

##@ Set-up

.PHONY: kube
kube: toxiproxy ## Build the pinned real control plane from Go modules into .cache/kube/ (only when missing)
	tools/kube/build.sh

.PHONY: toxiproxy
toxiproxy: ## Build the pinned Toxiproxy (the real-backend fault test's TCP proxy) into .cache/toxiproxy/ (only when missing)
	@tools/toxiproxy/build.sh

.PHONY: kube-pin
kube-pin: ## Re-pin tools/kube to a Kubernetes release: make kube-pin VERSION=v1.37.2
	tools/kube/pin.sh $(VERSION)

$(STAMP): pyproject.toml operator/kubesim/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e operator/kubesim -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(STAMP) ## Create .venv with pinned dependencies

.PHONY: system-deps
system-deps: ## Unpack Debian's prometheus, promtool and alertmanager into .cache/debs; Debian's chromium (apt-get, when missing)
	@tools/debs/fetch.sh .cache/debs
	@tools/chromium.sh

.PHONY: lock
lock: ## Re-pin constraints.txt from a fresh resolve of pyproject.toml
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e operator/kubesim -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v -e '^releaseguard' -e '^kubesim' > constraints.txt
	rm -rf .lock-venv

.PHONY: clean
clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
