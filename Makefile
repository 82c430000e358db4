# The project's verbs. Every target bootstraps its own virtualenv (.venv) from pyproject.toml,
# pinned by constraints.txt; nothing needs to be installed by hand.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install checkov run test unit lint format bench mutation frontend chromium synth bootstrap deploy destroy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $@

install: $(STAMP) ## Create .venv and install the project with its dev tools

FRONTEND_STAMP := frontend/node_modules/.installed
FRONTEND_SITE := frontend/dist/index.html
$(FRONTEND_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	@touch $@
$(FRONTEND_SITE): $(FRONTEND_STAMP) frontend/build.mjs $(shell find frontend/src -type f)
	cd frontend && npm run --silent build

frontend: $(FRONTEND_SITE) ## Build the web page into frontend/dist/ (fails over its 150 KB gzip budget)

chromium: ## Install Debian's Chromium for the browser tests when it is missing (apt-get, as root)
	scripts/ensure-chromium.sh

run: install frontend ## Run the whole system locally (moto + offline model + web page) until Ctrl-C
	$(BIN)/labeler local

# checkov (a scanner of the synthesized template) in its own virtualenv: its pins clash with the project's.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-checkov.txt
	@touch $@

checkov: $(CHECKOV_STAMP) ## Install checkov (tests/infrastructure/test_checkov.py runs it on the synthesized template)

# What the tests need is made side by side: npm, Chromium and checkov's virtualenv while pip installs
# the project and lint then runs (about a minute less on a fresh clone).
test: ## Lint, type-check, then run every test (Python, JS unit, browser, checkov)
	@$(MAKE) --no-print-directory -j4 lint frontend chromium $(CHECKOV_STAMP)
	cd frontend && npm test
	$(BIN)/pytest

unit: install ## Only the fast tests (no moto server)
	cd frontend && npm test
	$(BIN)/pytest tests/unit tests/infrastructure

lint: install ## ruff, ruff format --check, mypy --strict, statelint, import-linter (the layer contracts)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src functions tests scripts cdk
	$(BIN)/statelint statemachine/pipeline.asl.json
	PYTHONPATH=. $(BIN)/lint-imports --no-cache

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# make bench IMAGES=1000 is the soak: memory must level off (stack_rss_mb in results/bench.json).
IMAGES ?= 200
CONCURRENCY ?= 6
bench: install ## Measure local pipeline throughput and latency; writes results/bench.json
	$(BIN)/python -m labeler_tools.bench --images $(IMAGES) --concurrency $(CONCURRENCY) --output results/bench.json

# Not part of make test (it runs the tests once per mutant). Fresh each time: a stale mutants/ could
# carry verdicts from other code. MUTATION_JOBS=1 on a busy machine.
MUTATION_JOBS ?= 2
mutation: install ## Mutation-test the domain core (mutmut); scores and survivors in results/mutation.json
	rm -rf mutants && mkdir -p results
	@started=$$(date +%s); $(BIN)/mutmut run --max-children $(MUTATION_JOBS) > results/mutmut.log 2>&1 \
		|| { tail -c 3000 results/mutmut.log; exit 1; }; \
	$(BIN)/python scripts/mutation_report.py --seconds $$(( $$(date +%s) - started ))

# --- AWS (cdk/): the CDK CLI is pinned in cdk/package-lock.json --------------------------------------
# Deploy-time settings: make deploy STACK=ImageLabeler EMAIL=ops@example.com DEV_ORIGIN=http://localhost:5173
# LIBRARY=my-photos LIBRARY_PREFIX=camera/ (a bucket of yours that backfill may read)
STACK ?= ImageLabeler
EMAIL ?=
DEV_ORIGIN ?=
CDK_STAMP := cdk/node_modules/.installed
CDK := cd cdk && CDK_DISABLE_CLI_TELEMETRY=1 npx --no-install cdk
LIBRARY ?=
LIBRARY_PREFIX ?=
CDK_CONTEXT := -c stackName=$(STACK) $(if $(EMAIL),-c alertEmail=$(EMAIL)) $(if $(DEV_ORIGIN),-c devOrigin=$(DEV_ORIGIN)) \
	$(if $(LIBRARY),-c libraryBucket=$(LIBRARY)) $(if $(LIBRARY_PREFIX),-c libraryPrefix=$(LIBRARY_PREFIX))

$(CDK_STAMP): cdk/package.json cdk/package-lock.json
	cd cdk && npm ci --no-audit --no-fund
	@touch $@

synth: install frontend $(CDK_STAMP) ## Build the CloudFormation template offline into cdk.out/ (cdk-nag, then cfn-lint)
	$(CDK) synth --quiet --no-validation $(CDK_CONTEXT)
	$(BIN)/cfn-lint --ignore-checks W3005 -- cdk.out/$(STACK).template.json

bootstrap: install $(CDK_STAMP) ## Prepare the AWS account and region of your credentials for CDK (once)
	$(CDK) bootstrap $(CDK_CONTEXT)

# REKOGNITION_TPS: the label function's reserved concurrency; the preflight lowers it to 0 (with a warning)
# when the account could not keep its 10 unreserved executions (new accounts), see cdk/preflight.py.
REKOGNITION_TPS ?= 5
# Other settings as CDK context, e.g. CDK_ARGS="-c quotaGlobal=1000 -c monthlyBudgetUsd=50" (see cdk/README.md).
CDK_ARGS ?=
deploy: install frontend $(CDK_STAMP) ## Deploy (or update) the stack in your AWS account; outputs in cdk.out/outputs.json
	tps=$$($(BIN)/python -m cdk.preflight --stack $(STACK) --requested $(REKOGNITION_TPS)); \
	$(CDK) deploy $(CDK_CONTEXT) -c rekognitionTps=$$tps $(CDK_ARGS) --outputs-file ../cdk.out/outputs.json

destroy: install $(CDK_STAMP) ## Delete the stack (keeps the results table and the upload buckets: see README)
	$(CDK) destroy $(CDK_CONTEXT)

clean: ## Remove the virtualenv, caches and build output
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache results cdk.out cdk/node_modules \
		frontend/node_modules frontend/dist test-artifacts
